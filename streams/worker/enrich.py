"""The enrichment edge: feedback messages in, comment insights and comment minutes out.

The service only: what a batch becomes is ``streams.comments.enrichment``, its SQL
``streams.queries.comments``.

A batch consumer of ``cx.feedback`` in a consumer group of its own (``CX_APP_ID`` +
``-enrich``), the ingest's loop (``IngestService``) with another writer: so a slow
model holds back only its own offsets, never the raw events, the scores and the
answers, which the ingest writes in its group. One batch flows fetch -> validate and
mask (on the event loop, cheap) -> classify (one model thread, at a lower CPU
priority, one encoder call per batch) -> insights and comment facts written ->
comment minutes rewritten -> commit. Every write is idempotent, as in scoring: an
insight row is keyed by event id, a comment fact by scope, minute and event id, and
minutes are recomputed from the stored facts, so a replay or a duplicate changes
nothing. Messages that fail the contract are skipped here: the ingest dead-letters them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from streams.comments.classify import Classifier
from streams.comments.enrichment import FEEDBACK_TOPIC, Enricher, Enrichment
from streams.config import Settings
from streams.core.contract import Validator, ValidEvent
from streams.core.ingest import Masker
from streams.core.rows import Batch
from streams.kafka.lag import ENRICH
from streams.queries.comments import store_insights
from streams.warehouse import LazyWarehouse
from streams.worker import metrics
from streams.worker.ingest import Fetched, IngestService
from streams.worker.sink import retry, rewrite

log = logging.getLogger(__name__)
T = TypeVar("T")

WAIT_STEP_S = 0.25
MAX_WAIT_S = 30.0
"""The longest a batch of comments waits for the worker's own ingest: under a load that
keeps the ingest behind (an embedded ClickHouse on a busy machine, a long backfill) the
comments still move, one batch per this many seconds at least."""
MODEL_NICE = 10
"""How much lower the model's CPU priority is than the ingest's (Linux nice steps)."""


def lower_priority() -> None:
    """Lower this thread's CPU priority (Linux: nice is per thread, and the encoder's
    OpenMP threads inherit it from the thread that starts them). On a busy machine the
    ingest and the scores then go first and the comments catch up, instead of both slowing."""
    with contextlib.suppress(OSError, AttributeError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid,
                       min(19, os.getpriority(os.PRIO_PROCESS, tid) + MODEL_NICE))


def model_thread() -> ThreadPoolExecutor:
    """The one thread the model runs in, at a lower priority (``lower_priority``)."""
    return ThreadPoolExecutor(1, thread_name_prefix="cx-comments", initializer=lower_priority)

class Backlog:
    """The age of the oldest feedback fetched and not yet enriched and committed.

    Fetching is in offset order and held back while the model is busy (the queue
    between fetch and write is bounded), so the oldest message the model still owes is
    among the batches in flight: their oldest Kafka timestamps are kept, in fetch order,
    until each batch is committed. Read on every scrape, so it grows while a batch sits
    in a slow model, and falls to 0 when the consumer has caught up.
    """

    def __init__(self) -> None:
        self._oldest: list[float] = []

    def fetched(self, records: Sequence[ConsumerRecord]) -> None:
        stamps = [record.timestamp for record in records if record.timestamp]
        self._oldest.append(min(stamps) / 1000 if stamps else time.time())

    def committed(self) -> None:
        if self._oldest:
            del self._oldest[0]

    def lag(self, now: float) -> float:
        return max(0.0, now - min(self._oldest)) if self._oldest else 0.0


class CommentSink:
    """The enrichment's writer for ``IngestService``: classify a batch in the model thread,
    store its insights and comment facts (``write``), then rewrite the comment minutes of
    the batches written so far (``settle``); the batch is committed after both."""

    def __init__(self, enricher: Enricher, url: str, model: ThreadPoolExecutor,
                 wait: Callable[[], bool] | None = None) -> None:
        self.enricher = enricher
        self._warehouse = LazyWarehouse(url)
        self._model = model
        self._wait = wait

    def close(self) -> None:
        self._model.shutdown(wait=False, cancel_futures=True)

    async def in_model_thread(self, step: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._model, step)

    async def classify(self, events: list[ValidEvent]) -> Enrichment:
        """The batch's insights; an event the model fails on is logged, counted and
        skipped, so one poison comment cannot stall the consumer."""
        try:
            return await self.in_model_thread(lambda: self.enricher.classify(events))
        except Exception:
            log.exception("comment enrichment failed on a batch; retrying one by one")
        enrichment = Enrichment()
        for event in events:
            try:
                one = await self.in_model_thread(
                    lambda event=event: self.enricher.classify([event]))  # type: ignore[misc]
            except Exception as error:
                metrics.COMMENTS_FAILED.inc()
                log.error("comment enrichment skipped a message: %s: %s",
                          type(error).__name__, error)
                continue
            enrichment.enriched += one.enriched
            enrichment.encoded += one.encoded
            enrichment.seconds += one.seconds
        return enrichment

    async def write(self, batch: Batch) -> set[Any]:
        """Classify, then store the insights and facts (retried until stored); returns the
        comment minutes touched. While ``wait`` says so (the worker's own ingest is
        catching up), the batch waits, up to ``MAX_WAIT_S``: the model's CPU, memory
        bandwidth and ClickHouse writes would slow the ingest by a third to a half."""
        until = time.monotonic() + MAX_WAIT_S
        while self._wait is not None and self._wait() and time.monotonic() < until:
            await asyncio.sleep(WAIT_STEP_S)
        enrichment = await self.classify(batch.accepted)
        touched: set[Any] = set()
        if enrichment.enriched:
            version = self.enricher.classifier.version

            async def write() -> None:
                connection = await asyncio.to_thread(self._warehouse.get)
                touched.update(await asyncio.to_thread(
                    store_insights, connection, enrichment.enriched, version))

            await retry("comment insights write", write)
        for language, count in Counter(e.insight.language for e in enrichment.enriched
                                       if e.insight is not None).items():
            metrics.COMMENTS_ENRICHED.labels(language).inc(count)
        metrics.COMMENTS_ENCODED.inc(enrichment.encoded)
        metrics.ENRICH_BATCH_SECONDS.observe(enrichment.seconds)
        return touched

    async def settle(self, touched: set[Any]) -> None:
        await rewrite(self._warehouse, touched, "comment minutes write")


class EnrichService(IngestService):
    """``IngestService`` on cx.feedback in its own group, with the model loaded first."""

    def __init__(self, settings: Settings, validator: Validator, masker: Masker | None, *,
                 wait: Callable[[], bool] | None = None, **kwargs: object) -> None:
        """``wait``: whether to hold the next batch back (``CommentSink.write``)."""
        self.enricher = Enricher(validator, Classifier.from_settings(settings), masker)
        self.backlog = Backlog()
        self.sink = CommentSink(self.enricher, settings.warehouse_url, model_thread(), wait)
        # Batches of at most CX_COMMENT_BATCH messages, cut after at most a second.
        bounded = replace(settings, batch_rows=settings.comment_batch,
                          batch_seconds=min(settings.batch_seconds, 1.0))
        super().__init__(bounded, self._prepare, self.sink, self._committed,
                         topics=[FEEDBACK_TOPIC], group=ENRICH, **kwargs)

    def _prepare(self, records: list[ConsumerRecord], now: float) -> Batch:
        self.backlog.fetched(records)
        return Batch(accepted=self.enricher.accept([record.value for record in records], now))

    def _committed(self, fetched: Fetched, consumer: AIOKafkaConsumer) -> None:
        self.backlog.committed()
        now_ms = time.time() * 1000
        metrics.observe_many(metrics.ENRICH_LATENCY_SECONDS,
                             (max(0.0, (now_ms - sent) / 1000) for sent in fetched.sent_ms))

    async def on_start(self) -> None:
        """Load the model first: a broken install fails at start, and the first batch does
        not wait for the load."""
        await self.sink.in_model_thread(self.enricher.classifier.warm)
        metrics.ENRICH_LAG_SECONDS.set_function(lambda: self.backlog.lag(time.time()))
        await super().on_start()

    async def on_stop(self) -> None:
        await super().on_stop()
        self.sink.close()

    def count_assignment(self) -> None:
        """The enrichment's own partition count (the ingest's gauges are the ingest's)."""
        consumer = self._consumer
        metrics.ENRICH_PARTITIONS.set(len(consumer.assignment()) if consumer else 0)
