"""The high-volume ingest path: a batch consumer that runs inside the Faust worker.

Faust's per-message stream path tops out at a few thousand events per second
here (``cxpulse bench`` measures it), far below the budget, while aiokafka's
``getmany`` delivers a couple of hundred thousand. So the source topics are
consumed here, in batches and in a consumer group of their own
(``CX_APP_ID`` + ``-ingest``); Faust keeps what it is good at: the worker's
life cycle, the web server, leader election and timers.

One batch flows fetch -> validate -> write (raw rows, facts, dead letters) ->
settle (minute scores) -> commit. Fetching and validating the next batch
overlaps the writing of the previous one; the queue between them holds at most
``DEPTH`` batches, so a slow ClickHouse holds the consumer back instead of
filling memory. Offsets are committed only after a batch is written and
settled, in the order batches were fetched, so a crash replays (idempotently)
instead of losing. On a rebalance, the
batches already fetched are written and committed before the partitions go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaConnectionError, KafkaError
from mode import Service

from streams.config import Settings
from streams.core.limits import backoff
from streams.core.rows import Batch
from streams.dependencies import about
from streams.kafka import FETCH_LIMITS, SOURCE_TOPICS
from streams.kafka.lag import INGEST
from streams.kafka.security import KafkaSecurity
from streams.worker import metrics
from streams.worker.checkpoint import Checkpoint

log = logging.getLogger(__name__)

DEPTH = 2
"""Batches validated and waiting to be written: enough to overlap, small enough to bound memory."""


class Writer(Protocol):
    """Where batches go (``streams.worker.sink.Sink``)."""

    async def write(self, batch: Batch) -> set[Any]:
        """Store the batch; return what ``settle`` must bring up to date (touched minutes)."""
        ...

    async def settle(self, touched: set[Any]) -> None:
        """Bring the scores of everything written so far up to date."""
        ...


@dataclass(slots=True)
class Fetched:
    """One consumed batch: its rows (``Batch.written`` once they are), and what to commit
    once they are written."""

    batch: Batch
    offsets: dict[TopicPartition, int]
    """Next offset per partition: committed after the batch is written."""
    topics: Counter[str]
    sent_ms: list[int] = field(default_factory=list)
    """Kafka timestamps of the messages, for event -> score latency."""
    validated_at: float = 0.0
    complete_at: float | None = None
    """Set when this batch ends at the partitions' high-water marks: every message in the
    assigned partitions at that wall time is in this batch or an earlier one."""


Prepare = Callable[[list[ConsumerRecord], float], Batch]
"""Records and the time they are handled -> the batch to write (``build_batch``)."""


def fetched_batch(records: list[ConsumerRecord], prepare: Prepare, now: float) -> Fetched:
    """Prepare the batch, and note per partition the offset to commit once it is written."""
    last: dict[tuple[str, int], int] = {}
    topics: Counter[str] = Counter()
    sent_ms = []
    for record in records:  # records of a partition come in offset order
        last[record.topic, record.partition] = record.offset
        topics[record.topic] += 1
        if record.timestamp:
            sent_ms.append(record.timestamp)
    offsets = {TopicPartition(*tp): offset + 1 for tp, offset in last.items()}
    return Fetched(prepare(records, now), offsets, topics, sent_ms, now)


class IngestService(Service):
    """Fetch, validate, write and commit the source topics in bounded, overlapping batches."""

    def __init__(self, settings: Settings, prepare: Prepare, sink: Writer,
                 written: Callable[[Fetched, AIOKafkaConsumer], None], *,
                 topics: Sequence[str] = SOURCE_TOPICS, group: str = INGEST,
                 consumer: Callable[[], AIOKafkaConsumer] | None = None, **kwargs: object
                 ) -> None:
        """``topics`` are consumed in the group ``CX_APP_ID`` + ``-`` + ``group``;
        ``consumer`` makes the Kafka consumer (default: aiokafka, from the settings)."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._settings = settings
        self._topics = list(topics)
        self._group = f"{settings.app_id}-{group}"
        self._make_consumer = consumer or self._new_consumer
        self._prepare = prepare
        self._sink = sink
        self._written = written
        self._queue: asyncio.Queue[Fetched] = asyncio.Queue(DEPTH)
        self._pending: list[ConsumerRecord] = []
        self._cutting = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._crashing: asyncio.Future[None] | None = None
        self._at_end: float | None = None
        self._in_flight = 0
        """Batches queued or being written, not yet committed."""
        self.settled_until = 0.0
        """Wall time up to which everything in this worker's partitions is written and
        settled; the alert evaluator waits for it, so a catching-up backlog never looks
        like a silent channel."""

    def _new_consumer(self) -> AIOKafkaConsumer:
        s = self._settings
        session_ms = int(s.session_timeout * 1000)
        return AIOKafkaConsumer(
            bootstrap_servers=s.kafka_servers,
            group_id=self._group, client_id=self._group,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=session_ms, heartbeat_interval_ms=max(1000, session_ms // 5),
            # A ClickHouse outage holds the fetch loop back (backpressure); the member
            # stays in its group for this long without fetching.
            max_poll_interval_ms=600_000,
            **FETCH_LIMITS, **KafkaSecurity.of(s).aiokafka())

    async def on_start(self) -> None:
        consumer = await self._started_consumer()
        self._tasks = [asyncio.create_task(self._fetch_loop(consumer), name="ingest-fetch"),
                       asyncio.create_task(self._write_loop(consumer), name="ingest-write")]
        for task in self._tasks:
            task.add_done_callback(self._on_task_done)

    async def _started_consumer(self) -> AIOKafkaConsumer:
        """A subscribed, started consumer. A broker gone since the worker's start-up wait is
        waited for again (its outage lines count the attempts), not a crash."""
        attempt = 0
        while True:
            self._consumer = consumer = self._make_consumer()  # rebalances may come in start
            consumer.subscribe(self._topics, listener=_Rebalance(self))
            try:
                await consumer.start()
                return consumer
            except KafkaConnectionError as error:
                with contextlib.suppress(KafkaError):
                    await consumer.stop()  # the half-started client's connections
                attempt += 1
                log.warning("ingest: cannot start consuming (%s); retrying", error,
                            extra=about("kafka", f"{self._group} start"))
                await asyncio.sleep(backoff(attempt, first=0.5, cap=15.0))

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        """A loop that ends other than by being stopped is a bug: crash, don't idle."""
        if task.cancelled() or task.exception() is None:
            return
        log.error("ingest: %s failed", task.get_name(), exc_info=task.exception())
        self._crashing = asyncio.ensure_future(self.crash(task.exception()))  # type: ignore[arg-type]

    async def on_stop(self) -> None:
        """Stop fetching, write and commit what was fetched (bounded), then leave the group.

        A loop that crashed was reported then (``crash``): it is not raised again here, and
        the consumer still leaves the group instead of holding its partitions.
        """
        fetch, write = self._tasks or (None, None)
        if fetch is not None:
            await _end(fetch)
        if write is not None and not write.done():
            await self.drain()
            await _end(write)
        if self._consumer is not None:
            await self._consumer.stop()

    def count_assignment(self) -> None:
        consumer = self._consumer
        assigned = consumer.assignment() if consumer else set()
        metrics.ASSIGNED_PARTITIONS.set(len(assigned))
        metrics.keep_lag({(tp.topic, tp.partition) for tp in assigned})

    async def drain(self) -> bool:
        """Queue what is pending and wait until every fetched batch is written and committed.

        Bounded by CX_SESSION_TIMEOUT: what is not written by then stays uncommitted.
        """
        timeout = self._settings.session_timeout
        await self._cut()
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
            return True
        except TimeoutError:
            log.warning("ingest: batches still unwritten after %.0fs; their offsets stay "
                        "uncommitted and will be replayed", timeout)
            return False

    async def _fetch_loop(self, consumer: AIOKafkaConsumer) -> None:
        rows, seconds = self._settings.batch_rows, self._settings.batch_seconds
        first = 0.0
        while True:
            wait = seconds if not self._pending else max(0.0, first + seconds - time.monotonic())
            try:
                got = await consumer.getmany(timeout_ms=int(wait * 1000),
                                             max_records=max(1, rows - len(self._pending)))
            except KafkaError as error:  # the broker away for a moment: try again
                log.warning("ingest: fetch failed (%s); retrying", error,
                            extra=about("kafka", "ingest fetch"))
                await asyncio.sleep(1.0)
                continue
            if got and not self._pending:
                first = time.monotonic()
            for records in got.values():
                self._pending.extend(records)
            self._at_end = time.time() if await _at_high_water(consumer) else None
            if not got and not self._pending and not self._in_flight and self._at_end:
                self.settled_until = self._at_end  # idle and at the end: nothing unsettled
            if self._pending and (len(self._pending) >= rows
                                  or time.monotonic() - first >= seconds):
                await self._cut()

    async def _cut(self) -> None:
        """Validate the pending records as one batch and queue it, in fetch order."""
        async with self._cutting:
            if not self._pending:
                return
            records, self._pending = self._pending, []
            fetched = fetched_batch(records, self._prepare, time.time())
            fetched.complete_at = self._at_end
            self._in_flight += 1
            try:
                await self._queue.put(fetched)
            except asyncio.CancelledError:  # stopping while the queue is full: the records
                self._in_flight -= 1  # go back, so the drain still writes and commits them
                self._pending[:0] = records
                raise

    async def _write_loop(self, consumer: AIOKafkaConsumer) -> None:
        """Write each batch, then settle the minutes it touched and commit it.

        Under load, the minutes of consecutive batches are settled together, at most
        CX_BATCH_SECONDS after the first was written (``Checkpoint.due``). A batch is
        committed only after its minutes are settled, so a crash in between replays it.
        """
        checkpoint: Checkpoint[Fetched] = Checkpoint(self._settings.batch_seconds)
        while True:
            if checkpoint.due(time.monotonic(), waiting=not self._queue.empty()):
                await self._sink.settle(checkpoint.touched)
                await self._commit(consumer, checkpoint.offsets())
                complete_at = checkpoint.complete_at()
                for fetched in checkpoint.clear():
                    self._written(fetched, consumer)
                    self._queue.task_done()
                    self._in_flight -= 1
                if complete_at is not None:
                    self.settled_until = max(self.settled_until, complete_at)
                continue
            fetched = await self._queue.get()
            touched = await self._sink.write(fetched.batch)
            fetched.batch = fetched.batch.written()
            checkpoint.add(fetched, touched, time.monotonic())

    @staticmethod
    async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        mine = consumer.assignment()
        owned = {tp: offset for tp, offset in offsets.items() if tp in mine}
        if not owned:
            return
        try:
            await consumer.commit(owned)
        except KafkaError as error:  # e.g. the group moved on: the rows are written, a
            log.warning("ingest: commit failed (%s); those events will be replayed "  # replay
                        "idempotently", error,  # of them is harmless
                        extra=about("kafka", "offset commit"))


async def _end(task: asyncio.Task[None]) -> None:
    """Cancel a loop and wait for it to end; one that already failed was reported."""
    if task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _at_high_water(consumer: AIOKafkaConsumer) -> bool:
    """Whether the consumer has fetched everything its partitions held at the last fetch."""
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None or await consumer.position(tp) < high:
            return False
    return True


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: IngestService) -> None:
        self._service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            await self._service.drain()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._service.count_assignment()
