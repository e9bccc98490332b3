"""Apply ``schemas/clickhouse/*.sql`` in order, each file once, recorded in ``schema_migrations``.

Every statement is also written to be idempotent (IF NOT EXISTS), so two
workers migrating at the same moment do no harm.
"""

from __future__ import annotations

import time
from importlib.resources import files

from streams.warehouse import Warehouse


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


def migrate(warehouse: Warehouse) -> list[str]:
    """Bring the schema up to date; return the versions applied now."""
    db = warehouse.database
    warehouse.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    warehouse.execute(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(version String, applied_at DateTime('UTC')) "
        "ENGINE = ReplacingMergeTree() ORDER BY version")
    done = {row["version"] for row in warehouse.query(
        f"SELECT version FROM {db}.schema_migrations")}
    applied = []
    for version, sql in migration_files():
        if version in done:
            continue
        for statement in statements(sql, db):
            warehouse.execute(statement)
        warehouse.insert("schema_migrations", [(version, int(time.time()))],
                         ("version", "applied_at"))
        applied.append(version)
    return applied
