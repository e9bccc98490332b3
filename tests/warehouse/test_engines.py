"""The same DDL and inserts on both engines: ClickHouse 18.16 (server) and current chdb."""

from __future__ import annotations

import time

import orjson
import pytest

from streams.core.contract import Rejection, Validator
from streams.core.rows import (
    COLUMNS,
    DEADLETTER_TABLE,
    TABLE_OF_TYPE,
    Record,
    as_dict,
    deadletter_row,
    event_row,
)
from streams.warehouse import Warehouse, WarehouseError, connect
from streams.warehouse.migrate import migrate, migration_files
from tests.support.contract_cases import EXAMPLES, NOW

pytestmark = pytest.mark.integration


def columns(warehouse: Warehouse, table: str) -> set[str]:
    return {row["name"] for row in warehouse.query(
        f"SELECT name FROM system.columns WHERE database = '{warehouse.database}' "
        f"AND table = '{table}'")}


def test_migrate_creates_every_table_and_is_idempotent(warehouse: Warehouse) -> None:
    migrate(warehouse)
    versions = {row["version"] for row in warehouse.query(
        f"SELECT version FROM {warehouse.database}.schema_migrations")}
    assert versions == {version for version, _ in migration_files()}
    assert migrate(warehouse) == []
    for table in [*TABLE_OF_TYPE.values(), DEADLETTER_TABLE]:
        assert columns(warehouse, table), f"{table} missing"


def test_rows_match_the_table_columns(warehouse: Warehouse) -> None:
    migrate(warehouse)
    validator = Validator(max_event_bytes=65536, max_age_seconds=10**9)
    for kind, example in EXAMPLES.items():
        event = validator.check(orjson.dumps(example), f"cx.{TABLE_OF_TYPE[kind]}", NOW)
        table = TABLE_OF_TYPE[kind]
        row = as_dict(table, event_row(event, Record("t", 0, 0), int(NOW)))
        assert set(row) == columns(warehouse, table) - set(), kind
    dead = as_dict(DEADLETTER_TABLE, deadletter_row(Rejection("too_large", "m"),
                                                    Record("t", 0, 0), b"x", 0))
    assert set(dead) == columns(warehouse, DEADLETTER_TABLE)


def test_duplicates_collapse_and_text_is_stored_verbatim(warehouse: Warehouse) -> None:
    migrate(warehouse)
    validator = Validator(max_event_bytes=65536, max_age_seconds=10**9)
    nasty = "'); DROP TABLE feedback; -- \\' \" \\x00 \x00 \t\n l'été مرحبا 日本語 😀"
    event_id = f"verbatim-{time.monotonic_ns()}"
    raw = orjson.dumps(EXAMPLES["feedback"] | {"event_id": event_id, "comment": nasty})
    event = validator.check(raw, "cx.feedback", NOW)
    rows = [event_row(event, Record("cx.feedback", 1, offset), int(NOW)) for offset in (5, 6)]
    warehouse.insert("feedback", rows, COLUMNS["feedback"])
    warehouse.insert("feedback", rows[:1], COLUMNS["feedback"])
    got = warehouse.query(
        f"SELECT comment, toUnixTimestamp(occurred_at) AS at, utc_offset_min "
        f"FROM {warehouse.database}.feedback FINAL WHERE event_id = '{event_id}'")
    assert len(got) == 1
    assert got[0]["comment"] == nasty
    # 2026-11-22T17:45:00+07:00 is 10:45:00 UTC
    assert int(got[0]["at"]) == 1795344300 and int(got[0]["utc_offset_min"]) == 420


def test_deadletter_payload_keeps_every_byte(warehouse: Warehouse) -> None:
    migrate(warehouse)
    payload = bytes(range(256)) + b"'\\\x00" + "ünïcode".encode()
    offset = time.monotonic_ns() % 10**12
    row = deadletter_row(Rejection("invalid_json", "not JSON"), Record("cx.feedback", 3, offset),
                         payload, int(NOW))
    warehouse.insert(DEADLETTER_TABLE, [row], COLUMNS[DEADLETTER_TABLE])
    got = warehouse.query(
        f"SELECT hex(payload) AS h, reason, partition, offset "
        f"FROM {warehouse.database}.deadletters WHERE offset = {offset}")
    assert bytes.fromhex(got[0]["h"]) == payload
    assert got[0]["reason"] == "invalid_json" and int(got[0]["partition"]) == 3


def test_bad_url_and_unreachable_server_are_clear_errors() -> None:
    with pytest.raises(WarehouseError, match="unsupported ClickHouse URL"):
        connect("mysql://x")
    down = connect("clickhouse://default:@127.0.0.1:1/cx")
    with pytest.raises(WarehouseError, match=r"127\.0\.0\.1:1"):
        down.query("SELECT 1")


def test_scoring_queries_run_on_both_engines(warehouse: Warehouse) -> None:
    """Facts, minute sums, window reads and verify: the same SQL on 18.16 and current."""
    from streams.core.rows import Batch
    from streams.queries.scoring import score_batch
    from streams.queries.verify import differences
    from streams.queries.windows import window_scores

    migrate(warehouse)
    tenant = f"t{time.monotonic_ns()}"
    validator = Validator(max_event_bytes=65536, max_age_seconds=10**9)
    deadline = 48 * 3600 * 1000
    events = [
        {**EXAMPLES["interaction"], "event_id": f"{tenant}-i", "tenant": tenant,
         "touchpoint": "it's \\ odd"},
        {**EXAMPLES["feedback"], "event_id": f"{tenant}-f", "tenant": tenant,
         "occurred_at": "2026-11-19T10:00:00Z"},
        {**EXAMPLES["followup"], "event_id": f"{tenant}-u", "tenant": tenant,
         "feedback_id": f"{tenant}-f", "occurred_at": "2026-11-20T10:00:00Z"},
    ]
    batch = Batch()
    for number, event in enumerate(events):
        topic = {"interaction": "cx.interactions", "feedback": "cx.feedback",
                 "followup": "cx.followups"}[event["type"]]
        batch.add_event(validator.check(orjson.dumps(event), topic, NOW),
                        Record(topic, 0, number), int(NOW))
    for table, rows in batch.rows.items():
        warehouse.insert(table, rows, COLUMNS[table])
    assert score_batch(warehouse, batch.accepted[:2], deadline) == 2
    assert score_batch(warehouse, batch.accepted[2:], deadline) == 1  # closes the feedback
    rows = window_scores(warehouse, end_ms=int(NOW * 1000), window_ms=7 * 86_400_000,
                         deadline_ms=deadline, tenant=tenant)
    total = next(r for r in rows if r["channel"] == "*")
    assert total["csat"] == 0.0 and total["csat_n"] == 1 and total["followup_sla"] == 1.0
    assert any(r["touchpoint"] == "it's \\ odd" for r in rows)
    assert [d for d in differences(warehouse, deadline) if d["scope"][0] == tenant] == []
