"""The worker end to end: real Tansu broker, real ClickHouse server, `cxpulse worker` procs."""

from __future__ import annotations

import base64
import time

import orjson
import pytest

from streams.warehouse import connect
from streams.warehouse.local import ClickHouseServer
from tests.support.events import hostile, record, stamp, valid_events
from tests.support.services import (
    committed,
    consume_all,
    produce,
    table_count,
    wait_balanced,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.integration


def expected_counts(events: list[dict]) -> dict[str, int]:
    table = {"interaction": "interactions", "feedback": "feedback", "followup": "followups"}
    counts = dict.fromkeys(table.values(), 0)
    for event in {e["event_id"]: e for e in events}.values():
        counts[table[event["type"]]] += 1
    return counts


def landed(warehouse, counts: dict[str, int]) -> bool:
    return all(table_count(warehouse, table) == n for table, n in counts.items())


def test_valid_events_land_once_and_hostile_ones_are_deadlettered(
        kafka, server_url, start_worker, tmp_path) -> None:
    now = time.time()
    events = valid_events(3000, now)
    special = [
        {"event_id": "sql-1", "type": "feedback", "occurred_at": "2026-11-22T10:15:30.5+05:30",
         "tenant": "acme-shop", "channel": "chat", "survey": "nps", "score": 3,
         "comment": "'); DROP TABLE cx.feedback; -- ابدا très déçu tidak puas"},
    ]
    special[0]["occurred_at"] = stamp(now - 120, 330)
    duplicates = events[::10]
    worker = start_worker(worker_env(kafka, server_url, tmp_path))
    worker.wait_ready()
    produce(kafka, [record(e) for e in events + special])
    bad = hostile(now)
    bad_meta = produce(kafka, [(topic, key, value) for topic, key, value, _ in bad])
    # Duplicates, one set on other partitions than the originals (no key).
    produce(kafka, [record(e) for e in duplicates])
    produce(kafka, [(t, None, v) for t, _, v in map(record, duplicates)])

    warehouse = connect(server_url)
    counts = expected_counts(events + special)
    wait_until(lambda: landed(warehouse, counts), 90, f"rows {counts}")
    wait_until(lambda: table_count(warehouse, "deadletters") == len(bad), 30, "dead letters")
    db = warehouse.database

    reasons = {(row["topic"], int(row["partition"]), int(row["offset"])): row for row in
               warehouse.query(f"SELECT topic, partition, offset, reason, message, hex(payload) "
                               f"AS payload FROM {db}.deadletters FINAL")}
    for (topic, _, value, reason), meta in zip(bad, bad_meta, strict=True):
        row = reasons[(topic, meta.partition, meta.offset)]
        assert row["reason"] == reason, (value[:80] if value else value, row["message"])
        assert bytes.fromhex(row["payload"]) == (value or b"")
        assert row["message"]

    stored = warehouse.query(
        f"SELECT comment, toString(occurred_at) AS at, utc_offset_min FROM {db}.feedback FINAL "
        f"WHERE event_id = 'sql-1'")[0]
    assert stored["comment"] == special[0]["comment"]
    assert stored["at"] == time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(now - 120)))
    assert stored["utc_offset_min"] == 330

    envelopes = [orjson.loads(v) for v in consume_all(kafka, "cx.deadletter", len(bad))]
    assert sorted(e["reason"] for e in envelopes) == sorted(r for *_, r in bad)
    huge = next(e for e in envelopes if e["reason"] == "too_large")
    assert huge["payload_truncated"] and huge["payload_size"] > 2 * 1024 * 1024
    small = next(e for e in envelopes if e["reason"] == "wrong_topic")
    assert base64.b64decode(small["payload_base64"]) == bad[-2][2]

    # The worker survived all of it and keeps ingesting.
    assert worker.alive()
    late = valid_events(1, time.time(), prefix="after-hostile")
    produce(kafka, [record(e) for e in late])
    wait_until(lambda: table_count(warehouse, "interactions") == counts["interactions"] + 1, 30,
               "an event sent after the hostile ones")
    assert worker.counter("cx_deadletters_total") == len(bad)
    assert worker.counter("cx_events_total", outcome="rejected") == len(bad)


def test_two_workers_share_the_partitions_and_every_event_lands_once(
        kafka, server_url, start_worker, tmp_path) -> None:
    env = worker_env(kafka, server_url, tmp_path)
    first, second = start_worker(env, "first"), start_worker(env, "second")
    wait_balanced([first, second], partitions=3 * 4)
    events = valid_events(4000, time.time())
    produce(kafka, [record(e) for e in events])
    warehouse = connect(server_url)
    wait_until(lambda: landed(warehouse, expected_counts(events)), 90, "all rows")
    # Metrics follow the batch's scoring, a moment after its raw rows are visible.
    wait_until(lambda: sum(w.counter("cx_events_total") for w in (first, second))
               == len(events), 30, "every consumed event counted")
    consumed = [w.counter("cx_events_total") for w in (first, second)]
    assert all(n > 0 for n in consumed), f"one worker got no partitions: {consumed}"


def test_clickhouse_restart_mid_stream_loses_nothing(kafka, start_worker, tmp_path) -> None:
    server = ClickHouseServer(tmp_path / "clickhouse")
    server.start()
    try:
        url = server.url("restart")
        env = worker_env(kafka, url, tmp_path)
        group = f"{env['CX_APP_ID']}-ingest"
        worker = start_worker(env)
        worker.wait_ready()
        warehouse = connect(url)
        before = valid_events(1000, time.time(), prefix="before")
        produce(kafka, [record(e) for e in before])
        wait_until(lambda: landed(warehouse, expected_counts(before)), 60, "first rows")
        wait_until(lambda: committed(kafka, group) == len(before), 30,
                   "offsets committed once the rows are written")

        server.stop()
        during = valid_events(1000, time.time(), prefix="during")
        produce(kafka, [record(e) for e in during])
        wait_until(lambda: worker.counter("cx_sink_errors_total") >= 2, 60, "failed writes")
        # Nothing is committed past a row that is not in ClickHouse.
        assert committed(kafka, group) == len(before)
        server.start()

        wait_until(lambda: landed(warehouse, expected_counts(before + during)), 90, "all rows")
        wait_until(lambda: committed(kafka, group) == len(before) + len(during), 30,
                   "offsets committed after the outage")
        assert worker.alive()
    finally:
        server.stop()
