"""Apply ``schemas/clickhouse/*.sql`` in order, each file once, recorded in ``schema_migrations``.

Workers migrate when they start, so several may try at the same moment: the one
that creates the ``schema_migrations_lock`` table applies the pending files and
the others wait for it (a file that rebuilds a table must run once at a time).
Statements are still written to be safe to run again after a crash.
"""

from __future__ import annotations

import time
from importlib.resources import files

from streams.warehouse import Warehouse, WarehouseError


def migration_files() -> list[tuple[str, str]]:
    """(version, SQL text) for each DDL file, in version order."""
    folder = files("cxpulse_schemas").joinpath("clickhouse")
    entries = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name)
    return [(entry.name.removesuffix(".sql"), entry.read_text("utf-8")) for entry in entries]


def statements(sql: str, database: str) -> list[str]:
    """Split a DDL file into statements, dropping comment lines, naming the database."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [part.strip().replace("{database}", database)
            for part in body.split(";") if part.strip()]


def _pending(warehouse: Warehouse, until: str = "~") -> list[tuple[str, str]]:
    done = {row["version"] for row in warehouse.query(
        f"SELECT version FROM {warehouse.database}.schema_migrations")}
    return [(version, sql) for version, sql in migration_files()
            if version not in done and version <= until]


def _take_lock(warehouse: Warehouse, wait_s: float) -> bool:
    """Create the lock table (one creator wins); False if pending work vanished meanwhile."""
    lock = f"{warehouse.database}.schema_migrations_lock"
    deadline = time.monotonic() + wait_s
    while True:
        try:
            warehouse.execute(f"CREATE TABLE {lock} (holder String) ENGINE = TinyLog")
            return True
        except WarehouseError as error:
            if "exist" not in str(error).lower():
                raise
        if not _pending(warehouse):
            return False
        if time.monotonic() > deadline:
            raise WarehouseError(
                f"another migration has held {lock} for {wait_s:.0f} s; if none is running "
                f"(a migrator was killed), DROP TABLE {lock} and migrate again")
        time.sleep(0.5)


def migrate(warehouse: Warehouse, *, wait_s: float = 600.0, until: str = "~") -> list[str]:
    """Bring the schema up to date (or up to the version ``until``, for upgrade tests);
    return the versions applied now (by this caller)."""
    db = warehouse.database
    warehouse.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    warehouse.execute(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(version String, applied_at DateTime('UTC')) "
        "ENGINE = ReplacingMergeTree() ORDER BY version")
    if not _pending(warehouse, until) or not _take_lock(warehouse, wait_s):
        return []
    applied = []
    try:
        for version, sql in _pending(warehouse, until):
            for statement in statements(sql, db):
                warehouse.execute(statement)
            warehouse.insert("schema_migrations", [(version, int(time.time()))],
                             ("version", "applied_at"))
            applied.append(version)
    finally:
        warehouse.execute(f"DROP TABLE IF EXISTS {db}.schema_migrations_lock")
    return applied
