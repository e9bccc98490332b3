"""``cxpulse scores``, ``top`` and ``cases`` (``streams/cli/views.py``); the screen itself
is tested in test_top.py."""

from __future__ import annotations

from pathlib import Path

from streams.ports import free_port
from tests.cli.test_cli import cxpulse, one_line_error


def test_cases_errors_are_one_clear_line(tmp_path: Path) -> None:
    port = free_port()
    one_line_error(cxpulse("cases", "--json", env={
        "CX_CLICKHOUSE_URL": f"clickhouse://default:@127.0.0.1:{port}/cx"}), f"{port}")
    one_line_error(cxpulse("cases", env={"CX_NOTIFY_KEYWORDS": " , "}), "CX_NOTIFY_KEYWORDS")
    one_line_error(cxpulse("cases", cwd=tmp_path), "cxpulse cases: error:", "does not exist")
