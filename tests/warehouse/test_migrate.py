"""Migrations you can kill: anywhere, rerun, the clean schema and every row."""

from __future__ import annotations

import time
from typing import Any

import pytest

from streams.queries.verify import stored_minutes
from streams.tools.generate import TrafficSpec, generate
from streams.warehouse import Warehouse, WarehouseError, connect, resume, schema_lock
from streams.warehouse.migrate import (
    STEPS,
    ensure_schema,
    migrate,
    migration_files,
    plan,
    statements,
    status,
)
from tests.support.databases import OwnDatabase
from tests.warehouse.test_upgrade import NOW_S, load_old_way, raw_counts

pytestmark = pytest.mark.integration

OLD = "005_followup_cases"
"""The schema the data is loaded at: the rebuilds of 006 and 010 then carry it."""


class Killed(Exception):
    """What the hook raises: the migrator stops dead between two statements."""


def schema(warehouse: Warehouse) -> dict[str, Any]:
    """Tables (engine, DDL) and columns (in order, with defaults) of the database."""
    db = warehouse.database
    tables = {row["name"]: (row["engine"], row["create_table_query"].replace(db, "DB"))
              for row in warehouse.query(
                  "SELECT name, engine, create_table_query FROM system.tables "
                  f"WHERE database = '{db}'")}
    columns: dict[str, list[tuple[str, ...]]] = {}
    for row in warehouse.query("SELECT table, name, type, default_kind, default_expression "
                               f"FROM system.columns WHERE database = '{db}'"):
        columns.setdefault(row["table"], []).append(
            (row["name"], row["type"], row["default_kind"], row["default_expression"]))
    return {"tables": tables, "columns": columns}


def rollup_rows(warehouse: Warehouse) -> dict[str, int]:
    return {table: int(warehouse.query(
        f"SELECT count() AS n, sum(interactions) AS i FROM {warehouse.database}.{table} FINAL"
    )[0]["i"]) for table in ("score_hours", "score_days")}


def events() -> list[dict]:
    """A thousand events over two months or more: every chunked copy has several chunks."""
    spec = TrafficSpec(seed=11, start=NOW_S - 36 * 86400, duration=36 * 86400 - 600,
                       rate=0.0004)
    return list(generate(spec))


def test_a_migrator_killed_after_any_statement_reruns_to_the_clean_schema(
        warehouse: Warehouse) -> None:
    loaded = events()
    clean, killed = OwnDatabase(warehouse, "clean"), OwnDatabase(warehouse, "killed")
    try:
        migrate(clean, until=OLD)
        load_old_way(clean, loaded)
        migrate(clean)

        seen: set[tuple[str, int, str]] = set()
        has_rows = []

        def kill_once(version: str, step: int, chunk: str) -> None:
            """Stop after each statement, and after the first two chunks of each copy, the
            first time it runs (every chunk would only repeat the same case, slowly)."""
            if version > OLD and not has_rows:
                has_rows.append(True)
                load_old_way(killed, loaded)  # the 005 tables hold rows when 006 begins
            if chunk and sum(1 for v, s, _ in seen if (v, s) == (version, step)) >= 2:
                return
            if (version, step, chunk) not in seen:
                seen.add((version, step, chunk))
                raise Killed

        started, kills = time.monotonic(), 0
        while True:
            try:
                migrate(killed, after=kill_once)
                break
            except Killed:
                kills += 1
        elapsed = time.monotonic() - started
        points = len(seen)
        chunks = sum(1 for _, _, chunk in seen if chunk)
        print(f"\n{warehouse.description}: killed {kills} times ({chunks} after a chunk), "
              f"reran to the end in {elapsed:.1f} s")
        statements = sum(len(stmts) for _, stmts in plan(killed.database)[1:])
        assert kills == points == statements + chunks and chunks > 15
        assert schema(killed) == schema(clean)
        assert raw_counts(killed) == raw_counts(clean)
        assert stored_minutes(killed) == stored_minutes(clean)
        assert rollup_rows(killed) == rollup_rows(clean)
        assert {v for v, _ in migration_files()} == {
            row["version"] for row in killed.query(
                f"SELECT version FROM {killed.database}.schema_migrations")}
        assert migrate(killed) == [] and schema_lock.holder(killed) is None
    finally:
        clean.close()
        killed.close()


def test_rows_written_during_a_rebuild_reach_the_new_table(warehouse: Warehouse) -> None:
    """A worker still writing to ``interactions`` between its copy and its swap loses nothing;
    the copy of what arrived since is the new parts only, not the table again."""
    own = OwnDatabase(warehouse, "rebuild")
    loaded = events()
    try:
        migrate(own, until=OLD)
        load_old_way(own, loaded)
        before = raw_counts(own)["interactions"]
        late = [e | {"event_id": f"late-{i}", "occurred_at": when}
                for i, (e, when) in enumerate(
                    (e, e["occurred_at"]) for e in loaded if e["type"] == "interaction")][:5]
        future = [e | {"event_id": "late-new-month"} for e in late[:1]]
        future[0]["occurred_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW_S - 60))

        written = []

        def worker_writes(version: str, step: int, chunk: str) -> None:
            if (version, step) == ("006_partitions", 3) and chunk and not written:
                written.append(chunk)
                load_old_way(own, late + future)  # the old table, after its first chunk

        migrate(own, until="006_partitions", after=worker_writes)
        ids = {row["event_id"] for row in own.query(
            f"SELECT event_id FROM {own.database}.interactions FINAL "
            "WHERE event_id LIKE 'late-%'")}
        assert ids == {e["event_id"] for e in late + future}
        assert raw_counts(own)["interactions"] == before + len(late) + len(future)
        stored = int(own.query(f"SELECT count() AS n FROM {own.database}.interactions")[0]["n"])
        assert stored < 1.5 * before  # the catch-up copied the late parts, not everything
    finally:
        own.close()


def test_remaining_runs_only_what_a_statement_has_not_done(warehouse: Warehouse) -> None:
    own = OwnDatabase(warehouse, "remaining")
    db = own.database
    try:
        own.execute(f"CREATE DATABASE {db}")
        for name in ("t", "t_new"):
            own.execute(f"CREATE TABLE {db}.{name} (k String) ENGINE = MergeTree() ORDER BY k")
        swap = f"RENAME TABLE {db}.t TO {db}.t_old, {db}.t_new TO {db}.t"
        assert resume.remaining(own, swap) == swap
        own.execute(f"RENAME TABLE {db}.t TO {db}.t_old")  # a server that stopped half-way
        assert resume.remaining(own, swap) == f"RENAME TABLE {db}.t_new TO {db}.t"
        own.execute(f"RENAME TABLE {db}.t_new TO {db}.t")
        assert resume.remaining(own, swap) is None
        alter = f"ALTER TABLE {db}.t ADD COLUMN a UInt8, ADD COLUMN b UInt8, DROP COLUMN gone"
        own.execute(f"ALTER TABLE {db}.t ADD COLUMN a UInt8, ADD COLUMN gone UInt8")
        assert resume.remaining(own, alter) == (
            f"ALTER TABLE {db}.t ADD COLUMN b UInt8, DROP COLUMN gone")
        own.execute(f"ALTER TABLE {db}.t DROP COLUMN gone")
        assert resume.remaining(own, alter) == f"ALTER TABLE {db}.t ADD COLUMN b UInt8"
        own.execute(resume.remaining(own, alter))
        assert resume.remaining(own, alter) is None
        assert resume.remaining(own, f"ALTER TABLE {db}.t MODIFY COLUMN b UInt8") is None
        assert resume.remaining(own, f"ALTER TABLE {db}.t MODIFY COLUMN b UInt16") is not None
        assert resume.remaining(own, f"DROP TABLE {db}.t_old") is not None
        assert resume.remaining(own, f"DROP TABLE {db}.nothing") is None
        assert resume.remaining(own, f"CREATE TABLE {db}.t (k String) ENGINE = Log") is None
    finally:
        own.close()


def test_status_shows_applied_pending_progress_and_the_lock(warehouse: Warehouse) -> None:
    own = OwnDatabase(warehouse, "status")
    try:
        fresh = status(own)
        assert fresh["version"] is None and fresh["applied"] == []
        assert len(fresh["pending"]) == len(migration_files())
        assert fresh["lock"]["holder"] is None

        def stop_in_009(version: str, step: int, chunk: str) -> None:
            if version == "009_comments" and step == 2:
                raise Killed

        with pytest.raises(Killed):
            migrate(own, after=stop_in_009)
        half = status(own)
        assert half["version"] == "008_views"
        assert [a["version"] for a in half["applied"]][-1] == "008_views"
        assert all(abs(a["applied_at"] - time.time()) < 120 for a in half["applied"])
        assert half["pending"][0] == {"version": "009_comments", "done": 2,
                                      "statements": half["pending"][0]["statements"]}
        assert int(own.query(f"SELECT count() AS n FROM {own.database}.{STEPS}")[0]["n"]) > 0
        with pytest.raises(WarehouseError, match="cxpulse migrate"):
            ensure_schema(own, None, migrate_on_start=False)
        own.execute(f"CREATE TABLE {own.database}.{schema_lock.LOCK} (host String, pid UInt32, "
                    "since DateTime('UTC'), command String) ENGINE = TinyLog")
        own.insert(schema_lock.LOCK, [("elsewhere", 4242, 1_700_000_000, "cxpulse worker")],
                   ("host", "pid", "since", "command"))
        held = status(own)["lock"]
        assert held["holder"]["host"] == "elsewhere" and "pid 4242" in held["state"]
        with pytest.raises(WarehouseError, match=r"pid 4242 on elsewhere.*DROP TABLE"):
            migrate(own, wait_s=0.5)
        schema_lock.release(own)
        assert "applied 009_comments, 010" in ensure_schema(own, None, migrate_on_start=True)
        assert "up to date" in ensure_schema(own, None, migrate_on_start=False)
        assert status(own)["pending"] == []
    finally:
        own.close()


def test_the_rollup_carry_over_needs_no_memory_setting_raised(server_url: str) -> None:
    """384,000 minutes of 400 scopes: 007's hourly carry-over in one statement needs more than
    300 MB on 18.16; a day at a time it runs under a 100 MB per-query limit."""
    loader = connect(server_url)
    small = connect(f"{server_url}?max_memory_usage=100000000")
    db = loader.database
    try:
        migrate(loader, until="006_partitions")
        hour = int(time.time()) // 3600 * 3600
        loader.execute(
            f"INSERT INTO {db}.score_minutes (tenant, channel, touchpoint, minute, interactions, "
            "version) SELECT concat('tenant-', toString(number % 400)), 'web', 'checkout', "
            f"toDateTime({hour} - intDiv(number, 400) * 3600), 1, 1 "
            f"FROM system.numbers LIMIT {400 * 24 * 40}")
        rollups = statements(dict(migration_files())["007_rollups"], db)
        for create in rollups[:2]:
            loader.execute(create)
        with pytest.raises(WarehouseError, match="Memory limit"):
            small.execute(resume.with_condition(rollups[2], "1"))  # the whole history at once
        loader.execute(f"TRUNCATE TABLE {db}.score_hours")
        assert migrate(small, until="007_rollups") == ["007_rollups"]
        for table in ("score_hours", "score_days"):
            assert int(loader.query(f"SELECT sum(interactions) AS n FROM {db}.{table} FINAL")[0][
                "n"]) == 400 * 24 * 40
    finally:
        small.close()
        loader.close()


def test_the_lock_names_the_command_that_took_it(embedded_warehouse: Warehouse,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker migrating on start is recorded as itself, not as ``cxpulse migrate``; an
    option's value (maybe a secret) is not recorded."""
    own = OwnDatabase(embedded_warehouse, "lockcmd")
    own.execute(f"CREATE DATABASE {own.database}")
    try:
        monkeypatch.setattr("sys.argv", ["/usr/bin/cxpulse", "worker", "start",
                                         "--password", "hunter2"])
        assert schema_lock.take(own, 1.0, lambda: True)
        found = schema_lock.holder(own)
        assert found is not None and found["command"] == "cxpulse worker start"
        assert "(cxpulse worker start)" in status(own)["lock"]["state"]
    finally:
        schema_lock.release(own)
        own.close()
