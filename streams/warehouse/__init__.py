"""The warehouse edge: one small interface over ClickHouse server and embedded chdb.

``connect(url)`` picks the engine from the URL scheme; everything above it
speaks ``Warehouse`` and never knows which engine it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit


class WarehouseError(RuntimeError):
    """A ClickHouse call failed; the message says which server and what it answered."""


def one_line(error: BaseException, limit: int = 400) -> str:
    """A server's multi-line error (stack traces included) as one readable line."""
    text = " ".join(str(error).split(" Stack trace:")[0].split()) or repr(error)
    return text if len(text) <= limit else text[:limit] + "..."


class Warehouse(Protocol):
    database: str
    description: str
    """Where this is (URL without password) and which engine version answered."""

    def execute(self, sql: str) -> None: ...

    def query(self, sql: str) -> list[dict[str, Any]]: ...

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        """Insert rows (tuples in ``columns`` order) into ``database.table`` in one statement."""
        ...

    def close(self) -> None: ...


def database_of(url: str) -> str:
    """The database a URL names: the path of ``clickhouse://``, ``?database=`` of ``chdb://``."""
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        return parse_qs(parts.query).get("database", ["cx"])[0]
    return parts.path.strip("/") or "cx"


def connect(url: str) -> Warehouse:
    """``clickhouse://user:pass@host:9000/db`` (native protocol) or ``chdb:///path[?database=db]``."""
    scheme = urlsplit(url).scheme
    if scheme in ("clickhouse", "clickhouses"):
        from streams.warehouse.native import NativeWarehouse

        return NativeWarehouse(url)
    if scheme == "chdb":
        from streams.warehouse.embedded import EmbeddedWarehouse

        return EmbeddedWarehouse.open(url)
    raise WarehouseError(
        f"unsupported ClickHouse URL {url!r}: use clickhouse://user:pass@host:9000/db "
        "or chdb:///path (CX_CLICKHOUSE_URL)")


class LazyWarehouse:
    """A connection opened on first use, so a worker starts even while ClickHouse is away.

    ``get`` blocks: call it from a thread in async code. Give readers and the writer
    one each, so reads never queue behind writes on one connection (embedded chdb
    shares its single session anyway).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._warehouse: Warehouse | None = None

    def get(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = connect(self.url)
        return self._warehouse

