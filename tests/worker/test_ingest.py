"""The ingest loop's rules, in-process: a fake consumer and a list writer around the real
``IngestService`` and the real batch building, one rule per test."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaConnectionError

from streams.config import Settings
from streams.core.contract import Validator
from streams.core.ingest import build_batch
from streams.core.rows import COLUMNS, Batch
from streams.worker.ingest import DEPTH, Fetched, IngestService
from tests.support.events import stamp
from tests.support.fakes import FakeConsumer, ListWriter, Timeline

FEEDBACK = [TopicPartition("cx.feedback", 0), TopicPartition("cx.feedback", 1)]
PARTITION, OFFSET = (COLUMNS["feedback"].index(name) for name in ("source_partition",
                                                                   "source_offset"))


def answers(count: int, start: int = 0) -> Iterator[bytes]:
    now = time.time()
    for i in range(start, start + count):
        yield orjson.dumps({"event_id": f"fb-{i}", "type": "feedback", "tenant": "acme-shop",
                            "occurred_at": stamp(now - 60), "channel": "web",
                            "survey": "nps", "score": i % 11})


class Rig:
    """The service under test, with its fake edges and what they saw."""

    def __init__(self, env: dict[str, str], delay: float = 0.0) -> None:
        self.timeline: Timeline = []
        self.consumer = FakeConsumer(FEEDBACK, self.timeline)
        self.writer = ListWriter(self.timeline, delay=delay)
        self.written: list[Fetched] = []
        self.prepared = 0
        validator = Validator(max_event_bytes=1 << 20, max_age_seconds=86400)

        def prepare(records: list[Any], now: float) -> Batch:
            self.prepared += 1
            return build_batch(records, validator, now)

        settings = Settings.from_env({"CX_BATCH_ROWS": "50", "CX_BATCH_SECONDS": "0.1",
                                      "CX_SESSION_TIMEOUT": "3", **env})
        self.service = IngestService(settings, prepare, self.writer,
                                     lambda fetched, _: self.written.append(fetched),
                                     consumer=lambda: self.consumer)

    def add(self, count: int, start: int = 0) -> None:
        """``count`` answers, alternating between the two partitions."""
        values = list(answers(count, start))
        for index, tp in enumerate(FEEDBACK):
            self.consumer.append(tp, values[index::len(FEEDBACK)])

    def ends(self) -> dict[TopicPartition, int]:
        return {tp: len(self.consumer.logs.get(tp, [])) for tp in FEEDBACK}

    def messages_written(self) -> int:
        return sum(len(batch) for batch in self.writer.batches)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def running(rig: Rig) -> AsyncIterator[Rig]:
    await rig.service.start()
    try:
        yield rig
    finally:
        await rig.service.stop()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_offsets_are_committed_only_after_the_settle_and_in_fetch_order() -> None:
    async def scenario() -> None:
        rig = Rig({})
        rig.add(400)
        rig.writer.settles.clear()  # scores not brought up to date: nothing may be committed
        async with running(rig):
            await until(lambda: len(rig.writer.batches) >= 1)
            await asyncio.sleep(0.3)
            assert rig.consumer.committed == {}
            assert not any(kind == "commit" for kind, _ in rig.timeline)
            rig.writer.settles.set()
            await until(lambda: rig.consumer.committed == rig.ends())
        assert rig.consumer.stopped

        # Replay the timeline: each settle covers exactly the batches written since the
        # previous one and is followed by the commit of exactly their offsets, the last
        # fetched winning; nothing is committed otherwise.
        reached: dict[TopicPartition, int] = {}
        batches = iter(rig.writer.batches)
        written: list[int] = []
        settled: list[int] = []
        for (kind, what), after in zip(rig.timeline, [*rig.timeline[1:], ("end", None)],
                                       strict=True):
            if kind == "write":
                written.append(len(written) + 1)
                for row in next(batches).rows["feedback"]:
                    tp = TopicPartition("cx.feedback", row[PARTITION])
                    reached[tp] = max(reached.get(tp, 0), row[OFFSET] + 1)
            elif kind == "settle":
                assert what == set(written) - set(settled)
                settled = list(written)
                assert after == ("commit", reached)
            else:
                assert kind == "commit"
                assert settled == written
        assert len(written) >= 8  # 400 answers in batches of at most 50
        assert rig.messages_written() == 400

    run(scenario)


def test_a_revoke_writes_and_commits_what_was_fetched_before_the_partitions_go() -> None:
    async def scenario() -> None:
        rig = Rig({"CX_SESSION_TIMEOUT": "5"}, delay=0.05)
        rig.add(600)
        async with running(rig):
            await until(lambda: len(rig.writer.batches) >= 2)
            took = await rig.consumer.rebalance(FEEDBACK)  # the same partitions come back
            assert rig.consumer.handed_out < 600  # the revoke came mid-stream
            assert sum(rig.consumer.committed.values()) == rig.consumer.handed_out
            assert took < 5
            await until(lambda: rig.consumer.committed == rig.ends())
        # Resumed at the committed offsets: nothing written twice, nothing skipped.
        assert rig.messages_written() == 600

    run(scenario)


def test_a_revoke_waits_no_longer_than_the_session_timeout(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        rig = Rig({"CX_SESSION_TIMEOUT": "1"})
        rig.add(120)
        rig.writer.writes.clear()  # ClickHouse does not answer
        async with running(rig):
            await until(lambda: rig.writer.started == 1)
            took = await rig.consumer.rebalance([])  # the partitions go to another worker
            assert 1.0 <= took < 2.5  # the writer is held for good: gives up at 1 s
            assert rig.consumer.committed == {}  # nothing written: nothing committed
            rig.writer.writes.set()
            await until(lambda: rig.messages_written() == 120)
            await asyncio.sleep(0.2)
            assert rig.consumer.committed == {}  # written, but the partitions are not ours
        assert "stay uncommitted and will be replayed" in caplog.text

    with caplog.at_level(logging.WARNING):
        run(scenario)


def test_a_stop_writes_and_commits_what_was_fetched_then_leaves_the_group() -> None:
    """Including a batch cut while the queue was full (the fetch loop is cancelled there)."""
    async def scenario() -> None:
        rig = Rig({}, delay=0.05)
        rig.add(600)
        await rig.service.start()
        await until(lambda: len(rig.writer.batches) >= 2)
        await rig.service.stop()
        fetched = rig.consumer.handed_out
        assert fetched < 600  # stopped mid-stream
        assert sum(rig.consumer.committed.values()) == fetched == rig.messages_written()
        assert rig.consumer.stopped

    run(scenario)


def test_a_failed_commit_is_logged_and_the_next_one_covers_it(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        rig = Rig({})
        rig.add(100)
        rig.consumer.commit_errors.append(CommitFailedError("the group rebalanced"))
        async with running(rig):
            await until(lambda: rig.messages_written() == 100)
            await asyncio.sleep(0.3)
            assert not rig.service.crashed
            if rig.consumer.committed != rig.ends():  # the only commit was the failed one
                rig.add(10, start=100)
                await until(lambda: rig.consumer.committed == rig.ends())

    with caplog.at_level(logging.WARNING):
        run(scenario)
    assert "commit failed" in caplog.text and "replayed idempotently" in caplog.text


def test_at_most_two_batches_wait_while_the_writer_is_held() -> None:
    """One batch in the writer, DEPTH queued and one cut waiting for room; the consumer
    is asked for nothing more until the writer moves."""
    async def scenario() -> None:
        rig = Rig({"CX_BATCH_SECONDS": "5"})
        rig.add(1000)
        rig.writer.writes.clear()
        async with running(rig):
            await until(lambda: rig.writer.started == 1)
            await asyncio.sleep(0.5)
            assert DEPTH == 2
            assert rig.prepared == 1 + DEPTH + 1
            assert rig.consumer.handed_out == (1 + DEPTH + 1) * 50
            assert rig.consumer.committed == {}
            rig.writer.writes.set()
            await until(lambda: rig.consumer.committed == rig.ends())
        assert rig.messages_written() == 1000

    run(scenario)


@pytest.mark.parametrize("edge", ["writer", "consumer"])
def test_a_crashed_loop_stops_the_service_loudly(edge: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """The crash is logged and crashes the service (and so the worker, through its beacon);
    stopping then is quick and leaves the group, without raising the crash again."""
    async def scenario() -> None:
        rig = Rig({"CX_SESSION_TIMEOUT": "5"})
        rig.add(100)
        failure = RuntimeError("a bug")
        if edge == "writer":
            rig.writer.failure = failure
        else:
            rig.consumer.fetch_errors.append(failure)
        await rig.service.start()
        await until(lambda: rig.service.crashed)
        assert rig.service.crash_reason is failure
        started = time.monotonic()
        await rig.service.stop()
        assert time.monotonic() - started < 2.5  # no draining into a loop that is gone
        assert rig.consumer.stopped
        assert rig.consumer.committed == {}

    with caplog.at_level(logging.ERROR):
        run(scenario)
    loop = "ingest-write" if edge == "writer" else "ingest-fetch"
    assert f"ingest: {loop} failed" in caplog.text
    assert "a bug" in caplog.text


def test_a_broker_away_for_a_moment_is_retried_not_a_crash() -> None:
    async def scenario() -> None:
        rig = Rig({})
        rig.add(100)
        rig.consumer.fetch_errors.append(KafkaConnectionError("away"))
        async with running(rig):
            await until(lambda: rig.consumer.committed == rig.ends())
            assert not rig.service.crashed
        assert rig.messages_written() == 100

    run(scenario)


def test_a_broker_gone_while_the_consumer_starts_is_waited_for_not_a_crash(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        rig = Rig({})
        rig.add(100)
        rig.consumer.start_errors += [KafkaConnectionError("Unable to bootstrap")] * 2
        async with running(rig):
            await until(lambda: rig.consumer.committed == rig.ends())
            assert not rig.service.crashed
        assert rig.messages_written() == 100

    with caplog.at_level(logging.WARNING):
        run(scenario)
    retries = [r for r in caplog.records if "cannot start consuming" in r.getMessage()]
    assert len(retries) == 2 and all(r.levelno == logging.WARNING for r in retries)
    assert all(r.exc_info is None for r in caplog.records)


def test_settled_until_follows_what_is_written_and_settled() -> None:
    async def scenario() -> None:
        rig = Rig({})
        before = time.time()
        rig.add(100)
        async with running(rig):
            assert rig.service.settled_until == 0.0
            await until(lambda: rig.consumer.committed == rig.ends())
            await until(lambda: rig.service.settled_until >= before)
            rig.writer.writes.clear()
            await asyncio.sleep(0.3)
            arrived = time.time()
            rig.add(100, start=100)  # arrives while ClickHouse does not answer
            await until(lambda: rig.writer.started > len(rig.writer.batches))
            await asyncio.sleep(0.5)  # idle passes must not claim the unwritten batch
            assert rig.service.settled_until < arrived
            rig.writer.writes.set()
            await until(lambda: rig.service.settled_until >= arrived)
            assert rig.consumer.committed == rig.ends()
            assert rig.service.settled_until <= time.time()

    run(scenario)
