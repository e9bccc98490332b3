"""Apply ``schemas/clickhouse/*.sql`` in order, each file once, recorded in ``schema_migrations``.

Workers migrate when they start, so several may try at the same moment: the one
that creates the ``schema_migrations_lock`` table applies the pending files and
the others wait for it (a file that rebuilds a table must run once at a time).
Statements are still written to be safe to run again after a crash. With a
cluster name (CX_CLICKHOUSE_CLUSTER) the same files run as replicated,
distributed, ON CLUSTER DDL (``cluster.ClusterDDL``); ``plan`` is what would
run, for review; there the lock is created ON CLUSTER, so workers connected to
different shards take turns too.
"""

from __future__ import annotations

import time
from importlib.resources import files

from streams.warehouse import Warehouse, WarehouseError
from streams.warehouse.cluster import ClusterDDL

BOOKKEEPING = "bookkeeping"
"""The plan step that creates the database and ``schema_migrations``; it runs every time."""
CLUSTER_SETTINGS = {"insert_distributed_sync": "1", "distributed_product_mode": "global"}
"""Query settings cluster mode relies on: a write through a Distributed table has landed
before it is read back, and an ``IN (SELECT ...)`` over Distributed tables reads every shard."""


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


def bookkeeping(database: str) -> list[str]:
    return [f"CREATE DATABASE IF NOT EXISTS {database}",
            f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations\n"
            "(version String, applied_at DateTime('UTC'))\n"
            "ENGINE = ReplacingMergeTree() ORDER BY version"]


def plan(database: str, cluster: str | None = None) -> list[tuple[str, list[str]]]:
    """(step, statements): the bookkeeping, then every schema file, for one node or ``cluster``.

    Every file is translated, applied or not: the cluster form of a later file
    depends on the tables the earlier ones created.
    """
    steps = [(BOOKKEEPING, bookkeeping(database)),
             *((version, statements(sql, database)) for version, sql in migration_files())]
    if cluster is None:
        return steps
    ddl = ClusterDDL(cluster)
    return [(step, [out for statement in stmts for out in ddl.translate(statement)])
            for step, stmts in steps]


def render(database: str, cluster: str | None = None) -> str:
    """The whole plan as one SQL script with a comment per step (``cxpulse migrate --print``)."""
    where = f"ClickHouse cluster {cluster}" if cluster else "a single ClickHouse node"
    lines = [f"-- cxpulse migrate: database {database} on {where}"]
    for step, stmts in plan(database, cluster):
        lines += ["", f"-- {step}", *(f"{statement};" for statement in stmts)]
    return "\n".join(lines) + "\n"


def check_cluster(warehouse: Warehouse, cluster: str) -> None:
    """The server knows ``cluster`` and this connection has ``CLUSTER_SETTINGS``."""
    known = [row["cluster"] for row in warehouse.query(
        "SELECT DISTINCT cluster FROM system.clusters ORDER BY cluster")]
    if cluster not in known:
        raise WarehouseError(
            f"{warehouse.description}: cluster {cluster!r} (CX_CLICKHOUSE_CLUSTER) is not in "
            f"the server's <remote_servers>; it has: {', '.join(known) or 'none'}")
    names = ", ".join(f"'{name}'" for name in CLUSTER_SETTINGS)
    have = {row["name"]: row["value"] for row in warehouse.query(
        f"SELECT name, value FROM system.settings WHERE name IN ({names})")}
    wrong = [f"{name}={value}" for name, value in CLUSTER_SETTINGS.items()
             if have.get(name) != value]
    if wrong:
        raise WarehouseError(
            f"{warehouse.description}: cluster mode needs {' and '.join(wrong)}: append "
            f"?{'&'.join(wrong)} to CX_CLICKHOUSE_URL (or set them in the user's profile)")


def _pending(warehouse: Warehouse, until: str = "~") -> list[tuple[str, str]]:
    done = {row["version"] for row in warehouse.query(
        f"SELECT version FROM {warehouse.database}.schema_migrations")}
    return [(version, sql) for version, sql in migration_files()
            if version not in done and version <= until]


def _on(cluster: str | None) -> str:
    return f" ON CLUSTER '{cluster}'" if cluster else ""


def _take_lock(warehouse: Warehouse, wait_s: float, cluster: str | None = None) -> bool:
    """Create the lock table (one creator wins; on every node of a cluster, so workers on
    different shards also take turns); False if pending work vanished meanwhile."""
    lock = f"{warehouse.database}.schema_migrations_lock"
    deadline = time.monotonic() + wait_s
    while True:
        try:
            warehouse.execute(
                f"CREATE TABLE {lock}{_on(cluster)} (holder String) ENGINE = TinyLog")
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


def migrate(warehouse: Warehouse, cluster: str | None = None, *, wait_s: float = 600.0,
            until: str = "~") -> list[str]:
    """Bring the schema up to date (on ``cluster`` if named; or up to the version ``until``,
    for upgrade tests); return the versions applied now (by this caller)."""
    db = warehouse.database
    steps = plan(db, cluster)  # translated in full first: an untranslatable file runs nothing
    if cluster is not None:
        check_cluster(warehouse, cluster)
    (_, setup), *versions = steps
    for statement in setup:
        warehouse.execute(statement)
    if not _pending(warehouse, until) or not _take_lock(warehouse, wait_s, cluster):
        return []
    applied = []
    try:
        pending = {version for version, _ in _pending(warehouse, until)}
        for version, stmts in versions:
            if version not in pending:
                continue
            for statement in stmts:
                warehouse.execute(statement)
            warehouse.insert("schema_migrations", [(version, int(time.time()))],
                             ("version", "applied_at"))
            applied.append(version)
    finally:
        warehouse.execute(f"DROP TABLE IF EXISTS {db}.schema_migrations_lock{_on(cluster)}")
    return applied
