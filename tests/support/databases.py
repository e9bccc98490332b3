"""A warehouse seen through another database name: a test's own tables on the shared chdb.

Retention drops whole partitions and a migration test rebuilds tables, so such tests
need a database no other test writes to (the embedded engine is one per process).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

from streams.warehouse import Warehouse

_ids = itertools.count()


class OwnDatabase:
    def __init__(self, inner: Warehouse, prefix: str) -> None:
        self._inner = inner
        self.database = f"{prefix}_{time.monotonic_ns()}_{next(_ids)}"
        self.description = inner.description

    def execute(self, sql: str) -> None:
        self._inner.execute(sql)

    def query(self, sql: str) -> list[dict[str, Any]]:
        return self._inner.query(sql)

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        saved, self._inner.database = self._inner.database, self.database
        try:
            self._inner.insert(table, rows, columns)
        finally:
            self._inner.database = saved

    def close(self) -> None:
        self._inner.execute(f"DROP DATABASE IF EXISTS {self.database}")


def string_values(warehouse: Warehouse) -> dict[str, list[bytes]]:
    """Every value of every String-typed column of every table in the database, as bytes."""
    db = warehouse.database
    columns: dict[str, list[str]] = {}
    for row in warehouse.query(f"SELECT table, name, type FROM system.columns "
                               f"WHERE database = '{db}'"):
        if "String" in row["type"]:
            columns.setdefault(row["table"], []).append(row["name"])
    found: dict[str, list[bytes]] = {}
    for table, names in columns.items():
        hexed = ", ".join(f"hex(toString(`{name}`)) AS `{name}`" for name in names)
        rows = warehouse.query(f"SELECT {hexed} FROM {db}.`{table}`")
        found[table] = [bytes.fromhex(row[name] or "") for row in rows for name in names]
    return found
