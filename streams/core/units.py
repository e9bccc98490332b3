"""Durations and times as users write them (CLI flags, env vars, HTTP query parameters)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``, ``7d`` as seconds."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        raise ValueError(f"duration {text!r} is not like 90s, 15m, 2h or 7d") from None
    if not value > 0:
        raise ValueError(f"duration {text!r} must be positive")
    return value


def parse_time(text: str) -> float:
    """An RFC 3339 time (``Z`` or an offset) or ``now``, as Unix seconds."""
    if text == "now":
        return time.time()
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError:
        raise ValueError(f"time {text!r} is not RFC 3339, e.g. 2026-11-22T10:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} needs a UTC offset, e.g. 2026-11-22T10:00:00Z")
    return moment.timestamp()


def format_time(seconds: float) -> str:
    """Unix seconds as RFC 3339 UTC, e.g. ``2026-11-22T10:00:00Z``."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def format_window(window_ms: int) -> str:
    """``3600000`` -> ``1h``; days only from two days on, so a day reads ``24h``."""
    day, hour, minute = 86_400_000, 3_600_000, 60_000
    if window_ms % day == 0 and window_ms >= 2 * day:
        return f"{window_ms // day}d"
    for unit, size in (("h", hour), ("m", minute)):
        if window_ms % size == 0:
            return f"{window_ms // size}{unit}"
    return f"{window_ms // 1000}s"
