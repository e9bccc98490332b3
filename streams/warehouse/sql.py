"""ClickHouse literals for values we interpolate into SQL (both engines, every version).

Inside a quoted literal only backslash and quote are special; control bytes are
escaped too so a NUL never reaches a C API. Comment text and touchpoints are
therefore stored and matched verbatim, never parsed as SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

OCCURRED_MS = "toUInt64(toUnixTimestamp(occurred_at)) * 1000 + occurred_ms"
"""Event time in epoch milliseconds, from the raw tables' two columns."""

_STR_ESCAPES = {ord("\\"): "\\\\", ord("'"): "\\'"} | {i: f"\\x{i:02x}" for i in range(32)}
_BYTES_ESCAPES = _STR_ESCAPES | {i: f"\\x{i:02x}" for i in range(127, 256)}


def sql_literal(value: Any) -> str:
    """A ClickHouse literal for a row value (None, bool, int, float, str, bytes, tuple, or a
    list for an Array column)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.translate(_STR_ESCAPES) + "'"
    if isinstance(value, bytes | bytearray):
        return "'" + bytes(value).decode("latin-1").translate(_BYTES_ESCAPES) + "'"
    if isinstance(value, tuple):
        return "(" + ", ".join(sql_literal(item) for item in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(sql_literal(item) for item in value) + "]"
    raise TypeError(f"no ClickHouse literal for {type(value).__name__}")


def in_list(values: Iterable[Any]) -> str:
    """``(a, b, ...)`` for an IN clause; callers never pass an empty iterable."""
    return "(" + ", ".join(sql_literal(value) for value in values) + ")"


def column_list(columns: Iterable[str]) -> str:
    """``(`a`, `b`)``: quoted, so a column may be named like a keyword (``window``)."""
    return "(" + ", ".join(f"`{column}`" for column in columns) + ")"
