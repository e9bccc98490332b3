"""Apply ``schemas/clickhouse/*.sql`` in order, each file once, recorded in ``schema_migrations``.

Workers migrate when they start, so several may try at the same moment: the one
that holds the lock (``schema_lock``) applies the pending files and the others wait
for it (a file that rebuilds a table must run once at a time).

A migrator can be killed anywhere: each statement (and each chunk of a chunked
copy) is recorded in ``schema_migration_steps`` once it ran, so a rerun resumes
after the last one recorded; the one that ran but was not recorded runs again as
``resume.remaining`` says (only what of it is not done yet). A rebuild's swap
(``RENAME TABLE t TO t_old, t_new TO t`` after a copy from ``t`` into ``t_new``)
is followed by a copy of what reached ``t`` since its copy began (parts with higher
block numbers), so workers may keep writing while a table is rebuilt. With a
cluster name (CX_CLICKHOUSE_CLUSTER) the same files run as replicated,
distributed, ON CLUSTER DDL (``cluster.ClusterDDL``); ``plan`` is what would
run, for review; there the lock is created ON CLUSTER, so workers connected to
different shards take turns too.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from streams.warehouse import Warehouse, WarehouseError, resume, schema_lock
from streams.warehouse.cluster import LOCAL_SUFFIX, ClusterDDL
from streams.warehouse.resume import INSERT, SOURCE, chunked, exists

BOOKKEEPING = "bookkeeping"
"""The plan step that creates the database and ``schema_migrations``; it runs every time."""
STEPS = "schema_migration_steps"
"""What ran of each file: one row per statement (chunk ''), per chunk of a chunked copy, and
per copy the block its source had reached when it began (chunk MARK)."""
MARK = "#since"
DISTRIBUTED = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+\.\w+)\s+ON\s+"
                         r"CLUSTER\s+\S+\s+AS\s+\S+\s+ENGINE\s*=\s*Distributed\b", re.IGNORECASE)
"""A cluster's public (Distributed) table re-created: after a swap, where its catch-up runs."""
AfterStatement = Callable[[str, int, str], None]
"""Called with (version, statement index, '' or the chunk's condition) after each statement or
chunk ran, before it is recorded: progress output, and the tests' way to kill a migrator
anywhere."""
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
            "ENGINE = ReplacingMergeTree() ORDER BY version",
            f"CREATE TABLE IF NOT EXISTS {database}.{STEPS}\n"
            "(version String, step UInt32, chunk String, mark UInt64, checksum String,\n"
            " applied_at DateTime('UTC'))\n"
            "ENGINE = ReplacingMergeTree() ORDER BY (version, step, chunk)"]


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


def applied_versions(warehouse: Warehouse) -> dict[str, int]:
    """Version -> when it was applied (Unix seconds); empty on a database never migrated."""
    table = f"{warehouse.database}.schema_migrations"
    if not exists(warehouse, table):
        return {}
    return {row["version"]: int(row["at"]) for row in warehouse.query(
        f"SELECT version, toUnixTimestamp(min(applied_at)) AS at FROM {table} GROUP BY version")}


def pending_files(warehouse: Warehouse, until: str = "~") -> list[tuple[str, str]]:
    """(version, SQL text) of each file not applied yet (up to ``until``), in order."""
    done = applied_versions(warehouse)
    return [(version, sql) for version, sql in migration_files()
            if version not in done and version <= until]


def checksum(stmts: list[str]) -> str:
    """Identifies a file's statements: progress recorded for other text (the file changed
    between a kill and the rerun) is not resumed from; the file runs from its start."""
    return hashlib.sha256("\n;\n".join(stmts).encode()).hexdigest()[:16]


class FileRun:
    """One schema file applied statement by statement, resuming where a killed run stopped."""

    def __init__(self, warehouse: Warehouse, version: str, stmts: list[str], *,
                 cluster: str | None, after: AfterStatement | None) -> None:
        self.warehouse, self.version, self.stmts = warehouse, version, stmts
        self.cluster, self.after = cluster, after
        self.checksum = checksum(stmts)
        self.done: set[tuple[int, str]] = set()
        self.marks: dict[int, int] = {}
        for row in warehouse.query(
                f"SELECT step, chunk, min(mark) AS mark FROM {warehouse.database}.{STEPS} "
                f"WHERE version = '{version}' AND checksum = '{self.checksum}' "
                "GROUP BY step, chunk"):
            if row["chunk"] == MARK:
                self.marks[int(row["step"])] = int(row["mark"])
            else:
                self.done.add((int(row["step"]), row["chunk"]))

    def run(self) -> None:
        for step, statement in enumerate(self.stmts):
            if (step, "") in self.done:
                continue
            if INSERT.match(statement):
                self._copy(step, statement)
            else:
                todo = resume.remaining(self.warehouse, statement)
                if todo is not None:
                    self.warehouse.execute(todo)
                self._catch_up(step, statement)
            self._ran(step, "")

    def _ran(self, step: int, chunk: str, mark: int = 0, condition: str = "") -> None:
        if self.after is not None and chunk != MARK:
            self.after(self.version, step, condition)
        self.warehouse.insert(STEPS, [(self.version, step, chunk, mark, self.checksum,
                                       int(time.time()))],
                              ("version", "step", "chunk", "mark", "checksum", "applied_at"))

    def _copy(self, step: int, statement: str) -> None:
        source = SOURCE.search(statement)
        if source and self.cluster is None and step not in self.marks:
            # Where the source stood when the copy began: a later swap copies what came after.
            self.marks[step] = resume.max_block(self.warehouse, source["source"])
            self._ran(step, MARK, self.marks[step])
        plan_ = chunked(statement)
        if plan_ is None:
            self.warehouse.execute(statement)
            return
        for chunk, condition in resume.chunks(self.warehouse, *plan_):
            if (step, chunk) in self.done:
                continue
            self.warehouse.execute(resume.with_condition(statement, condition))
            self._ran(step, chunk, condition=condition)

    def _catch_up(self, step: int, statement: str) -> None:
        """After a swap ``t TO t_old, t_new TO t`` that follows a copy of ``t`` into ``t_new``:
        copy into ``t`` what reached ``t_old`` since that copy began (on one node, the parts
        written since; on a cluster, once ``t``'s Distributed table is back, all of ``t_old``
        again: block numbers are per shard)."""
        public: str | None = None
        if self.cluster is None:
            moved = dict(resume.rename_pairs(statement))
        else:
            created = DISTRIBUTED.match(statement)
            if not created:
                return
            public = created["name"]
            moved = {_public(old): _public(new) for earlier in self.stmts[:step]
                     for old, new in resume.rename_pairs(earlier)}
        for earlier, copy in enumerate(self.stmts[:step]):
            into, source = INSERT.match(copy), SOURCE.search(copy)
            if not into or not source:
                continue
            old, new = source["source"], into["target"]
            if moved.get(new) != old or old not in moved:
                continue
            if public is not None and public != old:
                continue
            self._copy_again(copy, old, moved[old], self.marks.get(earlier))

    def _copy_again(self, copy: str, into: str, aside: str, mark: int | None) -> None:
        text = resume.redirected(copy, into, aside)
        plan_ = chunked(copy)
        if mark is not None:
            parts = resume.parts_since(self.warehouse, aside, mark)
            if parts and plan_:
                names = ", ".join(f"'{part}'" for part in parts)
                self.warehouse.execute(resume.with_condition(text, f"_part IN ({names})"))
            elif parts:
                self.warehouse.execute(text)  # unmarked: all again, the engine keeps one row
        elif plan_:
            for _, condition in resume.chunks(self.warehouse, aside, plan_[1]):
                self.warehouse.execute(resume.with_condition(text, condition))
        else:
            self.warehouse.execute(text)


def _public(name: str) -> str:
    return name.removesuffix(LOCAL_SUFFIX)


def migrate(warehouse: Warehouse, cluster: str | None = None, *, wait_s: float = 600.0,
            until: str = "~", after: AfterStatement | None = None) -> list[str]:
    """Bring the schema up to date (on ``cluster`` if named; or up to the version ``until``,
    for upgrade tests); return the versions applied now (by this caller)."""
    db = warehouse.database
    steps = plan(db, cluster)  # translated in full first: an untranslatable file runs nothing
    if cluster is not None:
        check_cluster(warehouse, cluster)
    (_, setup), *versions = steps
    for statement in setup:
        warehouse.execute(statement)
    if not pending_files(warehouse, until) or not schema_lock.take(
            warehouse, wait_s, lambda: bool(pending_files(warehouse, until)), cluster):
        return []
    applied = []
    try:
        pending = {version for version, _ in pending_files(warehouse, until)}
        for version, stmts in versions:
            if version not in pending:
                continue
            FileRun(warehouse, version, stmts, cluster=cluster, after=after).run()
            warehouse.insert("schema_migrations", [(version, int(time.time()))],
                             ("version", "applied_at"))
            applied.append(version)
    finally:
        schema_lock.release(warehouse, cluster)
    return applied


def status(warehouse: Warehouse, cluster: str | None = None) -> dict[str, Any]:
    """Applied versions (with time), pending ones (with the statements already run of a file a
    killed migrator left half done), the lock's holder: ``cxpulse migrate --status``."""
    done = applied_versions(warehouse)
    progress: dict[tuple[str, str], int] = {}
    if exists(warehouse, f"{warehouse.database}.{STEPS}"):
        for row in warehouse.query(
                f"SELECT version, checksum, uniqExact(step) AS n FROM {warehouse.database}.{STEPS} "
                f"WHERE chunk = '' GROUP BY version, checksum"):
            progress[(row["version"], row["checksum"])] = int(row["n"])
    pending = []
    for version, stmts in plan(warehouse.database, cluster)[1:]:
        if version not in done:
            pending.append({"version": version, "statements": len(stmts),
                            "done": progress.get((version, checksum(stmts)), 0)})
    found = schema_lock.holder(warehouse)
    return {"database": warehouse.database, "where": warehouse.description,
            "version": max(done) if done else None,
            "applied": [{"version": version, "applied_at": at} for version, at in sorted(
                done.items())],
            "pending": pending,
            "lock": {"state": schema_lock.describe(found), "holder": found}}


class SchemaBehind(WarehouseError):
    """The warehouse's schema is older than this cxpulse needs, and it may not migrate it."""


def ensure_schema(warehouse: Warehouse, cluster: str | None, *, migrate_on_start: bool) -> str:
    """Before a worker or collector runs: migrate (``CX_MIGRATE_ON_START``, the default) or
    check, and refuse an old schema with one line naming ``cxpulse migrate``; the line to log."""
    if migrate_on_start:
        applied = migrate(warehouse, cluster)
        return (f"warehouse {warehouse.description}: "
                + (f"applied {', '.join(applied)}" if applied else "schema up to date"))
    missing = [version for version, _ in pending_files(warehouse)]
    if missing:
        done = applied_versions(warehouse)
        raise SchemaBehind(
            f"warehouse {warehouse.description}: schema is at {max(done) if done else 'nothing'}"
            f", this cxpulse needs {missing[-1]} ({len(missing)} step(s) pending): run "
            "`cxpulse migrate` first (CX_MIGRATE_ON_START=off: workers do not migrate)")
    return f"warehouse {warehouse.description}: schema up to date (checked, not migrated)"
