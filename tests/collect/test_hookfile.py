"""The webhook secrets file is re-read when it changes; a bad change keeps the last good."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from streams.collect.hookfile import HookSecrets
from streams.hooks import load_secrets


def test_a_changed_file_is_reloaded_and_a_bad_one_keeps_the_last_good(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "hooks.json"
    path.write_text(json.dumps({"acme": {"typeform": "first-secret-1234"}}))
    secrets = HookSecrets(path, load_secrets)
    assert secrets.secrets == {"acme": {"typeform": "first-secret-1234"}}
    assert not secrets.reload()  # unchanged
    path.write_text(json.dumps({"acme": {"typeform": "second-secret-12345"}}))
    assert secrets.reload() and secrets.secrets["acme"]["typeform"] == "second-secret-12345"
    with caplog.at_level(logging.ERROR, logger="streams.collect.hookfile"):
        path.write_text('{"acme": {"typeform": 7}}')
        assert not secrets.reload() and not secrets.reload()
        path.unlink()
        assert not secrets.reload()
    assert secrets.secrets["acme"]["typeform"] == "second-secret-12345"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "second-secret" not in caplog.text
    path.write_text(json.dumps({"globex": {"zendesk": "third-secret-123456"}}))
    assert secrets.reload() and list(secrets.secrets) == ["globex"]


def test_no_file_means_no_secrets() -> None:
    secrets = HookSecrets(None, load_secrets)
    assert secrets.secrets == {} and not secrets.reload()


def test_a_bad_file_at_start_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "hooks.json"
    path.write_text("[]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        HookSecrets(path, load_secrets)
