"""Embedded ClickHouse (chdb), in-process, one process per data directory.

Inserts are sent as ``VALUES`` literals because dead-letter payloads are raw
bytes that JSON formats cannot carry; ``sql_literal`` escapes every byte that
could end a string, so comment text is stored verbatim and never parsed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import orjson

from streams.warehouse import WarehouseError

_STR_ESCAPES = {ord("\\"): "\\\\", ord("'"): "\\'"} | {i: f"\\x{i:02x}" for i in range(32)}
_BYTES_ESCAPES = _STR_ESCAPES | {i: f"\\x{i:02x}" for i in range(127, 256)}


def sql_literal(value: Any) -> str:
    """A ClickHouse literal for a row value (None, bool, int, float, str or bytes)."""
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
    raise TypeError(f"no ClickHouse literal for {type(value).__name__}")


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
        database = parse_qs(parts.query).get("database", ["cx"])[0]
        key = str(path)
        if key not in cls._open:
            if cls._open:
                raise WarehouseError(
                    f"embedded ClickHouse is already open at {next(iter(cls._open))}; "
                    f"one process can hold only one (asked for {path})")
            cls._open[key] = cls(path, database)
        return cls._open[key]

    def _run(self, sql: str, fmt: str = "CSV") -> bytes:
        try:
            with self._lock:
                result = self._session.query(sql, fmt)
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise WarehouseError(f"embedded ClickHouse at {self.path}: {first}") from error
        return result.bytes() if hasattr(result, "bytes") else bytes(result)

    def execute(self, sql: str) -> None:
        self._run(sql)

    def query(self, sql: str) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self._run(sql, "JSONEachRow").splitlines() if line]

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        values = ",".join(
            "(" + ",".join(sql_literal(row[column]) for column in columns) + ")" for row in rows)
        self._run(f"INSERT INTO {self.database}.{table} ({', '.join(columns)}) VALUES {values}")

    def close(self) -> None:
        # The session lives as long as the process: chdb cannot reopen in-process reliably.
        pass


def pid_file(path: Path) -> Path:
    return path / "cxpulse.pid"


def owner_pid(path: Path) -> int | None:
    """The pid of the live process holding this embedded store, if any."""
    try:
        pid = int(pid_file(path).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid
