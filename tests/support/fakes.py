"""In-process stand-ins for the Kafka side of the hot path (the consumer, the sink's
publisher) and for the ingest loop's writer: ``worker.ingest``'s rules (commit after
settle, drain on revoke, bounded memory) are tested one by one, and a failure names the
rule that broke. ClickHouse itself is never faked: ``test_sink`` uses the real server.

They copy from aiokafka what the loop relies on: ``getmany`` waits while a rebalance
is in progress, a revoked partition is still assigned while the revoke callback runs,
committing a partition not assigned raises ``IllegalStateError``, and ``highwater`` is
the partition's end as of the last fetch (``None`` before one). The consumer and the
writer write what they do, in order, to a shared ``Timeline``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import IllegalStateError

from streams.core.rows import Batch

Timeline = list[tuple[str, Any]]
"""("write", messages), ("settle", touched) and ("commit", offsets), in the order done."""


class FakeConsumer:
    """A consumer in a group of its own: what ``IngestService`` calls on an AIOKafkaConsumer."""

    def __init__(self, assigned: Iterable[TopicPartition], timeline: Timeline) -> None:
        self.timeline = timeline
        self.logs: dict[TopicPartition, list[ConsumerRecord]] = {}
        self.committed: dict[TopicPartition, int] = {}
        self.handed_out = 0
        """Records returned by ``getmany`` so far."""
        self.fetch_errors: list[Exception] = []
        """Raised by the next ``getmany`` calls, one each (a broker away for a moment)."""
        self.commit_errors: list[Exception] = []
        """Raised by the next ``commit`` calls, one each (e.g. the group moved on)."""
        self.start_errors: list[Exception] = []
        """Raised by the next ``start`` calls, one each (the broker gone while starting)."""
        self.started = self.stopped = False
        self._assigned = set(assigned)
        self._positions: dict[TopicPartition, int] = {}
        self._highwater: dict[TopicPartition, int] = {}
        self._listener: ConsumerRebalanceListener | None = None
        self._arrived = asyncio.Event()
        self._settled = asyncio.Event()
        self._settled.set()

    def append(self, tp: TopicPartition, values: Iterable[bytes]) -> None:
        """Messages arriving on a partition (assigned or not)."""
        log = self.logs.setdefault(tp, [])
        now_ms = int(time.time() * 1000)
        for value in values:
            log.append(ConsumerRecord(tp.topic, tp.partition, len(log), now_ms, 0, None, value,
                                      None, 0, len(value), ()))
        self._arrived.set()

    def subscribe(self, topics: list[str], listener: ConsumerRebalanceListener) -> None:
        self._listener = listener

    async def start(self) -> None:
        if self.start_errors:
            raise self.start_errors.pop(0)
        self.started = True
        await self._assign(self._assigned)

    async def stop(self) -> None:
        self.stopped = True

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self._highwater.get(tp)

    async def position(self, tp: TopicPartition) -> int:
        if tp not in self._assigned:
            raise IllegalStateError(f"Partition {tp} is not assigned")
        return self._positions[tp]

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None
                      ) -> dict[TopicPartition, list[ConsumerRecord]]:
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            await self._settled.wait()  # as aiokafka: nothing is returned mid-rebalance
            if self.fetch_errors:
                raise self.fetch_errors.pop(0)
            got = self._take(max_records or 1 << 30)
            left = deadline - time.monotonic()
            if got or left <= 0:
                return got
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    def _take(self, limit: int) -> dict[TopicPartition, list[ConsumerRecord]]:
        got: dict[TopicPartition, list[ConsumerRecord]] = {}
        for tp in sorted(self._assigned):
            log = self.logs.get(tp, [])
            self._highwater[tp] = len(log)
            records = log[self._positions[tp]:self._positions[tp] + limit]
            if records:
                got[tp] = records
                self._positions[tp] += len(records)
                limit -= len(records)
                self.handed_out += len(records)
        return got

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.commit_errors:
            raise self.commit_errors.pop(0)
        for tp in offsets:
            if tp not in self._assigned:
                raise IllegalStateError(f"Partition {tp} is not assigned")
        self.committed |= offsets
        self.timeline.append(("commit", dict(offsets)))

    async def rebalance(self, assigned: Iterable[TopicPartition]) -> float:
        """Revoke every partition, then assign these; returns the seconds the revoke
        callback took (the group waits for it at most the session timeout)."""
        assert self._listener is not None
        self._settled.clear()
        started = time.monotonic()
        await self._listener.on_partitions_revoked(self.assignment())
        took = time.monotonic() - started
        self._assigned = set()
        await self._assign(set(assigned))
        return took

    async def _assign(self, assigned: set[TopicPartition]) -> None:
        """Positions restart at the committed offsets, as after a join."""
        self._assigned = assigned
        self._positions = {tp: self.committed.get(tp, 0) for tp in assigned}
        self._highwater = {}
        self._settled.set()
        if self._listener is not None:
            await self._listener.on_partitions_assigned(self.assignment())


class ListWriter:
    """The ``Writer`` protocol in memory: keeps each batch; can be held, slow or failing."""

    def __init__(self, timeline: Timeline, *, delay: float = 0.0) -> None:
        self.timeline = timeline
        self.delay = delay
        """Seconds each write takes."""
        self.batches: list[Batch] = []
        self.settled: list[set[Any]] = []
        self.started = 0
        """Writes begun (written or under way)."""
        self.failure: Exception | None = None
        """Raised by the next write when set."""
        self.writes = asyncio.Event()
        self.writes.set()
        """Cleared: writes wait (a ClickHouse that does not answer)."""
        self.settles = asyncio.Event()
        self.settles.set()
        """Cleared: settles wait."""

    async def write(self, batch: Batch) -> set[Any]:
        """Touches one item per batch: its number, so settles show which batches they cover."""
        self.started += 1
        await self.writes.wait()
        if self.failure is not None:
            raise self.failure
        await asyncio.sleep(self.delay)
        self.batches.append(batch)
        self.timeline.append(("write", len(batch)))
        return {len(self.batches)}

    async def settle(self, touched: set[Any]) -> None:
        await self.settles.wait()
        self.settled.append(set(touched))
        self.timeline.append(("settle", set(touched)))


class ListPublisher:
    """``sink.Publish`` in memory (the Kafka side of the sink): keeps what is sent per topic;
    the first ``failures`` calls fail as a broker away would."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: dict[str, list[tuple[bytes | None, bytes]]] = {}
        self.calls = 0

    async def __call__(self, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise OSError("broker unreachable")
        self.sent.setdefault(topic, []).extend(messages)
