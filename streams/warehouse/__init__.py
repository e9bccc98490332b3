"""The warehouse edge: one small interface over ClickHouse server and embedded chdb.

``connect(url)`` picks the engine from the URL scheme; everything above it
speaks ``Warehouse`` and never knows which engine it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit


class WarehouseError(RuntimeError):
    """A ClickHouse call failed; the message says which server and what it answered."""


class WarehouseUnavailable(WarehouseError):
    """ClickHouse did not answer (down, restarting, cut off): worth waiting for, unlike a
    refused login or a failed statement."""


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


DEFAULT_DATABASE = "cx"
"""The database of a URL that names none."""


def database_of(url: str) -> str:
    """The database a URL names: the path of ``clickhouse://``, ``?database=`` of ``chdb://``."""
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        return parse_qs(parts.query).get("database", [DEFAULT_DATABASE])[0]
    return parts.path.strip("/") or DEFAULT_DATABASE


def with_credentials(url: str, password: Any = None, ca_file: Any = None) -> str:
    """``url`` with a password (an object with ``reveal()``, set apart from the URL so it can
    come from a secret file) and a CA file (``?ca_certs=``) folded in, for ``connect``."""
    parts = urlsplit(url)
    if password is not None:
        user = quote(parts.username or "default", safe="")
        host = parts.hostname or "localhost"
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
        parts = parts._replace(netloc=f"{user}:{quote(password.reveal(), safe='')}@{host}{port}")
    if ca_file is not None and "ca_certs" not in parse_qs(parts.query):
        extra = urlencode({"ca_certs": str(ca_file)})
        parts = parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra)
    return urlunsplit(parts)


def connect(url: str) -> Warehouse:
    """``clickhouse://user:pass@host:9000/db`` (native protocol), ``clickhouses://`` (the same
    over TLS, certificate verified, ``?ca_certs=`` for a private CA) or
    ``chdb:///path[?database=db]``."""
    scheme = urlsplit(url).scheme
    if scheme in ("clickhouse", "clickhouses"):
        from streams.warehouse.native import NativeWarehouse

        return NativeWarehouse(url)
    if scheme == "chdb":
        from streams.warehouse.embedded import EmbeddedWarehouse

        return EmbeddedWarehouse.open(url)
    raise WarehouseError(
        f"unsupported ClickHouse URL scheme {scheme!r}: use clickhouse://user:pass@host:9000/db, "
        "clickhouses://user@host:9440/db or chdb:///path (CX_CLICKHOUSE_URL)")


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

