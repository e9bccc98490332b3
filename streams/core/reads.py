"""Who may read what through the worker's /v1 API, and its query parameters, with no I/O.

A key reads only its own tenant: asking for another is refused with one fixed answer,
whatever the tenant, so the answer never tells which tenants exist. An ``admin`` key
reads every tenant. Parameters are checked before any query runs: unknown, repeated or
out-of-range ones are a 400 naming the parameter, so a typo never widens a read and no
value reaches ClickHouse that it could fail on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Final

from streams.core.keys import ApiKey
from streams.core.units import parse_duration, parse_time

MAX_WINDOW_SECONDS: Final = 400 * 86400
"""Longest score window: a year and a bit, the longest history a dashboard compares."""
MAX_TIME: Final = 2**32 - 1
"""ClickHouse DateTime ends here (2106); times are checked against [0, MAX_TIME]."""
MAX_LIMIT: Final = 1000
MAX_VALUE: Final = 256
"""Longest parameter value: tenants, channels and themes are far shorter."""


class Refused(ValueError):
    """A request answered without data: HTTP status, machine-readable reason, message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


OTHER_TENANT: Final = ("forbidden", "this key reads only its own tenant")
"""The one answer to any other tenant, existing or not."""


def read_tenant(key: ApiKey | None, asked: str | None) -> str | None:
    """The tenant a read is limited to: a ``read`` key's own (``asked`` must be it or
    absent), ``asked`` for an admin key or with auth off (``key`` None); None is every
    tenant. Refused 403 for any other key or tenant."""
    asked = asked or None
    if key is None or key.scope == "admin":
        return asked
    if key.scope != "read":
        raise Refused(403, "forbidden", f"this is a {key.scope} key; reading needs a read key")
    if asked is not None and asked != key.tenant:
        raise Refused(403, *OTHER_TENANT)
    return key.tenant


def single(pairs: Iterable[tuple[str, str]], known: Iterable[str]) -> dict[str, str]:
    """The query's parameters by name: each known, given once, at most MAX_VALUE long."""
    known = tuple(known)
    found: dict[str, str] = {}
    for name, value in pairs:
        if name not in known:
            raise Refused(400, "unknown_parameter", f"unknown parameter {name[:40]!r}; this "
                          f"endpoint takes {', '.join(known) or 'none'}")
        if name in found:
            raise Refused(400, "repeated_parameter", f"parameter {name!r} is given twice")
        if len(value) > MAX_VALUE:
            raise Refused(400, "bad_parameter", f"{name} is over {MAX_VALUE} characters")
        found[name] = value
    return found


def _bad(name: str, message: str) -> Refused:
    return Refused(400, "bad_parameter", f"{name}: {message}")


def window_seconds(text: str, name: str = "window") -> float:
    """A window such as ``1h`` or ``7d``: at least a minute, at most MAX_WINDOW_SECONDS."""
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise _bad(name, str(error)) from None
    if not 60 <= seconds <= MAX_WINDOW_SECONDS:
        raise _bad(name, f"{text!r} must be between 1m and {MAX_WINDOW_SECONDS // 86400}d")
    return seconds


def moment(text: str, name: str) -> float:
    """An RFC 3339 time or ``now``, as Unix seconds within ClickHouse's DateTime range."""
    try:
        seconds = parse_time(text)
    except (ValueError, OverflowError) as error:
        raise _bad(name, str(error)) from None
    if not 0 <= seconds <= MAX_TIME:
        raise _bad(name, f"{text!r} is outside 1970-01-01 .. 2106-02-07")
    return seconds


def since(text: str, name: str = "since", now: float | None = None) -> int:
    """``since``: an RFC 3339 time, ``now``, or a duration back from now (``24h``)."""
    now = time.time() if now is None else now
    try:
        back = parse_duration(text)
    except ValueError:
        try:
            return int(moment(text, name))
        except Refused:
            raise _bad(name, f"{text!r}: give an RFC 3339 time such as 2026-11-22T10:00:00Z, "
                       "or a duration back from now such as 24h") from None
    if back > now:
        raise _bad(name, f"{text!r} reaches before 1970")
    return int(now - back)


def flag(text: str, name: str) -> bool:
    """``1``/``true`` or ``0``/``false`` (empty is false)."""
    value = text.strip().lower()
    if value in ("1", "true"):
        return True
    if value in ("", "0", "false"):
        return False
    raise _bad(name, f"{text!r} is not 1 or 0")


def limit(text: str, name: str = "limit") -> int:
    """A row limit, 1..MAX_LIMIT."""
    try:
        value = int(text)
    except ValueError:
        raise _bad(name, f"{text!r} is not an integer") from None
    if not 1 <= value <= MAX_LIMIT:
        raise _bad(name, f"must be between 1 and {MAX_LIMIT}, got {value}")
    return value


def choice(text: str, name: str, known: Iterable[str]) -> str:
    known = tuple(known)
    if text not in known:
        raise _bad(name, f"unknown {name} {text[:40]!r} (known: {', '.join(known)})")
    return text
