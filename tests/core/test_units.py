"""Durations and times as users write them."""

from __future__ import annotations

import pytest

from streams.core.units import format_window, parse_duration, parse_time


def test_durations_round_trip_in_the_usual_spelling() -> None:
    for text in ("1h", "24h", "7d", "15m", "90s", "30d"):
        assert format_window(int(parse_duration(text) * 1000)) == text
    assert parse_duration("90") == 90.0


@pytest.mark.parametrize("bad", ["", "soon", "-1h", "0", "h"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_times() -> None:
    assert parse_time("2026-11-22T10:00:00+01:00") == parse_time("2026-11-22T09:00:00Z")
    for bad in ("2026-11-22T10:00:00", "yesterday"):
        with pytest.raises(ValueError, match="time"):
            parse_time(bad)
