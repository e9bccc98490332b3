"""Embedded ClickHouse (chdb), in-process, one process per data directory.

Inserts are sent as ``VALUES`` literals (``warehouse.sql``) because dead-letter
payloads are raw bytes that JSON formats cannot carry.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import orjson

from streams.warehouse import WarehouseError, database_of, one_line
from streams.warehouse.sql import column_list, sql_literal


class EmbeddedWarehouse:
    _open: ClassVar[dict[str, EmbeddedWarehouse]] = {}

    def __init__(self, path: Path, database: str) -> None:
        try:
            from chdb import session
        except ImportError as error:
            raise WarehouseError(
                "embedded ClickHouse needs the 'chdb' package: pip install 'cxpulse[local]' "
                "or set CX_CLICKHOUSE_URL=clickhouse://...") from error
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.database = database
        self._lock = threading.Lock()
        try:
            self._session = session.Session(str(path))
        except Exception as error:  # chdb raises plain RuntimeError subclasses
            raise WarehouseError(
                f"cannot open embedded ClickHouse at {path}: {error} (is another cxpulse "
                "process using this CX_DATA_DIR?)") from error
        version = self._run("SELECT version() AS v", "JSONEachRow")
        self.description = f"chdb://{path} (embedded ClickHouse {orjson.loads(version)['v']})"

    @classmethod
    def open(cls, url: str) -> EmbeddedWarehouse:
        """One embedded engine per process and path (chdb allows no more)."""
        parts = urlsplit(url)
        path = Path(parts.netloc + parts.path).expanduser().resolve()
        database = database_of(url)
        key = str(path)
        if key not in cls._open:
            if cls._open:
                raise WarehouseError(
                    f"embedded ClickHouse is already open at {next(iter(cls._open))}; "
                    f"one process can hold only one (asked for {path})")
            cls._open[key] = cls(path, database)
            atexit.register(cls._open[key].close)
        return cls._open[key]

    def _run(self, sql: str, fmt: str = "CSV") -> bytes:
        with self._lock:
            if self._session is None:
                raise WarehouseError(f"embedded ClickHouse at {self.path} is closed")
            try:
                result = self._session.query(sql, fmt)
            except Exception as error:
                raise WarehouseError(
                    f"embedded ClickHouse at {self.path}: {one_line(error)}") from error
        return result.bytes() if hasattr(result, "bytes") else bytes(result)

    def execute(self, sql: str) -> None:
        self._run(sql)

    def query(self, sql: str) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self._run(sql, "JSONEachRow").splitlines() if line]

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        if not rows:
            return
        values = ",".join(sql_literal(tuple(row)) for row in rows)
        self._run(f"INSERT INTO {self.database}.{table} {column_list(columns)} VALUES {values}")

    def close(self) -> None:
        """Close at exit, under the lock: chdb crashes if torn down mid-query.

        The session otherwise lives as long as the process (chdb cannot reopen a
        closed one reliably), so ``close`` is only registered with ``atexit``.
        """
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
