"""Write a batch to ClickHouse (raw rows, then facts and cases), publish its notifications
and dead letters, settle scores.

Each step is retried until it succeeds. The caller commits the source offsets
only after ``write`` and then ``settle`` have returned, so a ClickHouse that is
down or restarting holds the stream back instead of losing rows. Retried
inserts are harmless: tables deduplicate by key. A notification is sent only for
a feedback revision that ``cx.notifications`` has no newer record of
(``core.triggers.notice``), and recorded right after the publish: at least once,
since a crash (or a failed record) between the two, or the same feedback on two
workers at the same moment, sends it again under the same key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import KafkaError

from streams.core.contract import DEADLETTER_TOPIC, NOTIFICATIONS_TOPIC, ValidEvent
from streams.core.limits import backoff
from streams.core.rows import COLUMNS, Batch
from streams.core.triggers import DEFAULT_KEYWORDS, latest_feedback, notice
from streams.dependencies import about_failure
from streams.queries.cases import notified, record_notified
from streams.queries.scoring import MinuteKey, rewrite_minutes, store_facts
from streams.warehouse import LazyWarehouse, WarehouseError
from streams.worker import metrics

log = logging.getLogger(__name__)

Publish = Callable[[str, list[tuple[bytes | None, bytes]]], Awaitable[None]]
"""Send (key, value) messages to a topic; returns once the broker has them all."""


async def retry(what: str, step: Callable[[], Awaitable[None]]) -> None:
    """Run ``step`` until it succeeds, backing off: the rows stay in hand meanwhile.

    Each failure is a line marked with the dependency it failed on, so while that one is
    known down the outage's own lines count it instead (``streams.dependencies``).
    """
    attempt = 0
    extra: dict[str, Any] | None
    while True:
        try:
            await step()
            if attempt:
                log.warning("%s succeeded after %d retries", what, attempt)  # no extra: not folded
            return
        except (TimeoutError, WarehouseError, OSError, KafkaError) as error:
            reason = str(error)
            extra = about_failure(error, what)
        except Exception as error:  # keep the worker alive and the rows in hand
            log.exception("unexpected error during %s", what)
            reason = f"{type(error).__name__}: {error}"
            extra = None
        metrics.SINK_ERRORS.inc()
        delay = backoff(attempt)
        attempt += 1
        log.warning("%s failed (attempt %d): %s; retrying in %.1fs", what, attempt, reason,
                    delay, extra=extra)
        await asyncio.sleep(delay)


async def rewrite(connection: LazyWarehouse, keys: set[MinuteKey], what: str) -> int:
    """Rewrite these minutes from the stored facts, retried until done (the ingest's score
    minutes and the enrichment's comment minutes alike); returns the rows written."""
    written = 0

    async def step() -> None:
        nonlocal written
        warehouse = await asyncio.to_thread(connection.get)
        written = await asyncio.to_thread(rewrite_minutes, warehouse, keys)

    if keys:
        await retry(what, step)
    return written


class Sink:
    def __init__(self, url: str, publish: Publish, followup_deadline_ms: int,
                 keywords: tuple[str, ...] = DEFAULT_KEYWORDS) -> None:
        self.connection = LazyWarehouse(url)
        self._publish = publish
        self._deadline_ms = followup_deadline_ms
        self._keywords = keywords

    async def write(self, batch: Batch) -> set[MinuteKey]:
        """Raw rows, facts, cases, notifications and dead letters; returns the minutes to
        ``settle``.

        Returns only when every row is in ClickHouse and every message is published.
        """
        started = time.monotonic()
        pending = dict(batch.rows)
        touched: set[MinuteKey] | None = None if batch.accepted else set()

        async def insert_pending() -> None:
            nonlocal touched
            warehouse = await asyncio.to_thread(self.connection.get)
            for table in list(pending):
                await asyncio.to_thread(warehouse.insert, table, pending[table], COLUMNS[table])
                metrics.SINK_ROWS.labels(table).inc(len(pending.pop(table)))
            if touched is None:  # after the raw rows: scoring looks them up
                touched = await asyncio.to_thread(store_facts, warehouse, batch.accepted,
                                                  self._deadline_ms)

        await retry("ClickHouse insert", insert_pending)
        candidates = latest_feedback(batch.accepted, self._keywords)
        if candidates:
            await retry("notification publish", lambda: self._notify(candidates))
        if batch.deadletters:
            await retry("dead-letter publish", lambda: self._publish(
                DEADLETTER_TOPIC, [(None, envelope) for envelope in batch.deadletters]))
        metrics.SINK_WRITE_SECONDS.observe(time.monotonic() - started)
        assert touched is not None
        return touched

    async def _notify(self, candidates: dict[str, ValidEvent]) -> None:
        """Publish the notifications not sent before, then record them."""
        warehouse = await asyncio.to_thread(self.connection.get)
        sent = await asyncio.to_thread(notified, warehouse, sorted(candidates))
        fresh = [found for key, event in candidates.items() if (found := notice(
            event, self._keywords, self._deadline_ms, sent.get(key))) is not None]
        if fresh:
            await self._publish(NOTIFICATIONS_TOPIC,
                                [(key.encode(), value) for key, _, _, value in fresh])
            await asyncio.to_thread(record_notified, warehouse, fresh)
            metrics.NOTIFICATIONS.inc(len(fresh))

    async def settle(self, keys: set[MinuteKey]) -> None:
        """Rewrite these minutes from the stored facts: the scores of what was written."""
        metrics.SCORE_MINUTES.inc(await rewrite(self.connection, keys, "score minutes rewrite"))
