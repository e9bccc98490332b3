"""Rejected items to ``cx.deadletters`` in the background, in batches, retried.

The request already waited for the ``cx.deadletter`` envelope's acknowledgement, so
a rejected item is never lost; this keeps ClickHouse out of the request path (an outage
never blocks ingestion). The backlog is bounded: past ``max_rows`` the oldest rows are
dropped, counted and logged, while their Kafka envelopes still hold every one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable

from streams.collect.metrics import CollectorMetrics
from streams.core.limits import backoff
from streams.core.rows import COLUMNS, DEADLETTER_TABLE, Row
from streams.warehouse import LazyWarehouse, one_line

log = logging.getLogger(__name__)


class DeadletterWriter:
    def __init__(self, warehouse: LazyWarehouse, metrics: CollectorMetrics, *,
                 max_rows: int = 100_000, batch_rows: int = 5_000) -> None:
        self._warehouse = warehouse
        self._metrics = metrics
        self._rows: deque[Row] = deque()
        self._max_rows = max_rows
        self._batch_rows = batch_rows
        self._waiting = asyncio.Event()
        self._dropping = False

    def add(self, rows: Iterable[Row]) -> None:
        self._rows.extend(rows)
        over = len(self._rows) - self._max_rows
        if over > 0:
            for _ in range(over):
                self._rows.popleft()
            self._metrics.deadletter_rows.labels("dropped").inc(over)
            if not self._dropping:
                self._dropping = True
                log.error("dead-letter backlog full (%d rows): dropping the oldest rows; "
                          "their cx.deadletter messages keep them", self._max_rows)
        self._metrics.deadletter_backlog.set(len(self._rows))
        self._waiting.set()

    def __len__(self) -> int:
        return len(self._rows)

    async def write_once(self) -> None:
        """Write one batch of the backlog; raises what ClickHouse raised."""
        batch = [self._rows[i] for i in range(min(len(self._rows), self._batch_rows))]
        if not batch:
            return
        warehouse = await asyncio.to_thread(self._warehouse.get)
        await asyncio.to_thread(warehouse.insert, DEADLETTER_TABLE, batch,
                                COLUMNS[DEADLETTER_TABLE])
        for _ in batch:  # only now: a failed insert keeps them
            self._rows.popleft()
        self._metrics.deadletter_rows.labels("written").inc(len(batch))
        self._metrics.deadletter_backlog.set(len(self._rows))
        self._dropping = False

    async def run(self) -> None:
        """Write whatever arrives, retrying with backoff (cancel to stop)."""
        attempt = 0
        while True:
            if not self._rows:
                self._waiting.clear()
                await self._waiting.wait()
            try:
                await self.write_once()
                if attempt:
                    log.warning("cx.deadletters writable again after %d retries", attempt)
                attempt = 0
            except Exception as error:
                if not attempt:
                    log.warning("cannot write cx.deadletters (%d rows wait, retrying): %s",
                                len(self._rows), one_line(error))
                await asyncio.sleep(backoff(attempt))
                attempt += 1

    async def flush(self, timeout: float) -> None:
        """On shutdown: write what is left, for at most ``timeout`` seconds."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                while self._rows:
                    await self.write_once()
        if self._rows:
            log.error("stopping with %d dead-letter rows not in ClickHouse (they are in the "
                      "cx.deadletter topic)", len(self._rows))
