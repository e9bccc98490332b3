"""Messages for the person at the terminal go to stderr, so stdout stays the data."""

from __future__ import annotations

import pytest

from streams.console import say


def test_say_writes_a_line_to_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    say("created topics cx.feedback")
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "created topics cx.feedback\n")
