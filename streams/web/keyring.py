"""The keys in force, re-read from ``cx.api_keys`` every few seconds, by every server that
checks keys (the collector, the worker's read API).

A revoked key stops working on every server within one refresh (plus a query). When
ClickHouse cannot be read, the last good ring stays in force and the failure is logged
once per outage, not once per refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from prometheus_client import Counter, Gauge

from streams.core.keys import ApiKey, KeyRing
from streams.warehouse import one_line

log = logging.getLogger(__name__)


class KeyRefresher:
    def __init__(self, load: Callable[[], list[ApiKey]], every: float, *, keys: Gauge,
                 errors: Counter) -> None:
        """``keys``: set to the number of keys read; ``errors``: counts failed reads (each
        server names its own metrics)."""
        self._load = load
        self._every = every
        self._keys_gauge = keys
        self._errors = errors
        self.ring = KeyRing()
        self.loaded = False
        """True once a read succeeded: until then every key is unknown (/readyz says so)."""
        self._failing = False

    async def refresh(self) -> bool:
        """Read the keys once; False (the ring unchanged) when the read failed."""
        try:
            keys = await asyncio.to_thread(self._load)
        except Exception as error:
            self._errors.inc()
            if not self._failing:
                self._failing = True
                log.warning("cannot read cx.api_keys, keeping the last %d keys: %s",
                            len(self.ring), one_line(error))
            return False
        self.ring = KeyRing(keys)
        self.loaded = True
        self._keys_gauge.set(len(keys))
        if self._failing:
            self._failing = False
            log.warning("cx.api_keys readable again: %d keys", len(keys))
        return True

    async def run(self) -> None:
        """Refresh forever (cancel to stop)."""
        while True:
            await asyncio.sleep(self._every)
            await self.refresh()
