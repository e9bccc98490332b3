"""The sink in-process against the real ClickHouse server: rows wait for ClickHouse and land
once, a settle brings the minute scores up to date, retries back off, a notification goes
out once per feedback revision. Only the Kafka side (the publisher) is a stand-in."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import orjson
import pytest

from streams.core.contract import (
    DEADLETTER_TOPIC,
    NOTIFICATIONS_TOPIC,
    TOPIC_OF_TYPE,
    Validator,
)
from streams.core.ingest import build_batch
from streams.core.limits import backoff
from streams.core.rows import Batch, Record
from streams.warehouse import Warehouse, WarehouseError
from streams.warehouse.migrate import migrate
from streams.worker import metrics
from streams.worker.sink import Sink, retry
from tests.support.events import stamp, valid_events
from tests.support.fakes import ListPublisher
from tests.support.services import table_count

DAY_MS = 86_400_000


def batch_of(events: list[dict[str, Any]], bad: tuple[bytes, ...] = ()) -> Batch:
    validator = Validator(max_event_bytes=1 << 20, max_age_seconds=30 * 86400)
    records = [Record(TOPIC_OF_TYPE[e["type"]], 0, i, orjson.dumps(e))
               for i, e in enumerate(events)]
    records += [Record("cx.feedback", 1, i, value) for i, value in enumerate(bad)]
    return build_batch(records, validator, time.time())


def errors() -> float:
    return metrics.SINK_ERRORS._value.get()


def test_retry_backs_off_doubling_and_keeps_the_step_through_any_error(
        caplog: pytest.LogCaptureFixture) -> None:
    failures = [WarehouseError("server away"), OSError("connection reset"), ValueError("bug")]
    attempts: list[float] = []

    async def step() -> None:
        attempts.append(time.monotonic())
        if failures:
            raise failures.pop(0)

    before = errors()
    with caplog.at_level(logging.WARNING):
        asyncio.run(retry("test step", step))
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert len(attempts) == 4
    for attempt, gap in enumerate(gaps):  # 0.2 s, 0.4 s, 0.8 s; the machine may be busy
        assert backoff(attempt) <= gap < backoff(attempt) + 0.5
    assert errors() - before == 3
    assert "unexpected error during test step" in caplog.text  # the bug is logged loudly
    assert "test step succeeded after 3 retries" in caplog.text


def test_rows_wait_while_clickhouse_is_away_then_land_once_and_settle(
        server_warehouse: Warehouse, server_url: str) -> None:
    """No tables yet (as a ClickHouse that is not ready): the write retries, holding the
    rows, until they exist; replaying the batch changes nothing."""
    now = time.time()
    events = valid_events(40, now, prefix="sink")
    batch = batch_of(events, bad=(b"{not json",))
    publisher = ListPublisher(failures=1)  # the broker away for the first publish
    sink = Sink(server_url, publisher, 2 * DAY_MS)
    database = server_warehouse.database

    async def scenario() -> set[Any]:
        before = errors()
        writing = asyncio.create_task(sink.write(batch))
        await asyncio.sleep(1.0)
        assert not writing.done()
        assert errors() - before >= 2
        await asyncio.to_thread(migrate, server_warehouse)
        touched = await asyncio.wait_for(writing, 30)
        assert table_count(server_warehouse, "score_minutes") == 0  # written, not settled
        await sink.settle(touched)
        assert await sink.write(batch) == touched  # a replay after a crash
        await sink.settle(touched)
        return touched

    touched = asyncio.run(scenario())
    kinds = [e["type"] for e in events]
    for kind, table in (("interaction", "interactions"), ("feedback", "feedback"),
                        ("followup", "followups")):
        assert table_count(server_warehouse, table) == kinds.count(kind)
    assert table_count(server_warehouse, "deadletters") == 1
    assert publisher.sent[DEADLETTER_TOPIC][0][1].count(b"invalid_json") == 1
    assert {(tenant, channel) for tenant, channel, _, _ in touched} == {
        (e["tenant"], e["channel"]) for e in events if e["type"] != "followup"}
    # Every event written is counted once in the settled minutes.
    settled = server_warehouse.query(
        f"SELECT sum(interactions) AS interactions, "
        f"sum(nps_n + csat5_n + csat10_n + ces_n) AS answers FROM {database}.score_minutes "
        f"FINAL WHERE channel != '*' AND touchpoint != '*'")[0]
    assert (settled["interactions"], settled["answers"]) == (kinds.count("interaction"),
                                                             kinds.count("feedback"))


def test_an_unhappy_answer_notifies_once_and_a_revision_withdraws_it_once(
        server_warehouse: Warehouse, server_url: str) -> None:
    migrate(server_warehouse)
    publisher = ListPublisher(failures=1)  # the first publish fails and is retried

    def answer(key: str, score: int, revision: int = 0) -> dict[str, Any]:
        return {"event_id": key, "type": "feedback", "occurred_at": stamp(time.time() - 60),
                "tenant": "acme-shop", "channel": "web", "survey": "nps", "score": score,
                "comment": "slow delivery", "revision": revision}

    sink = Sink(server_url, publisher, 2 * DAY_MS)

    def sent() -> list[tuple[bytes | None, str]]:
        return [(key, orjson.loads(value)["type"])
                for key, value in publisher.sent.get(NOTIFICATIONS_TOPIC, [])]

    async def scenario() -> None:
        opened = batch_of([answer("sad", 2), answer("happy", 10)])
        await sink.write(opened)
        assert publisher.calls == 2
        assert sent() == [(b"sad", "case_opened")]
        await sink.write(opened)  # replayed, or resent by its source
        assert sent() == [(b"sad", "case_opened")]
        withdrawn = batch_of([answer("sad", 9, revision=1)])
        await sink.write(withdrawn)
        await sink.write(withdrawn)
        assert sent() == [(b"sad", "case_opened"), (b"sad", "case_withdrawn")]

    asyncio.run(scenario())
