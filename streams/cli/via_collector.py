"""``cxpulse demo --via-collector``: the live traffic enters as a real source's would, over
HTTP through a collector, with a write key per tenant.

The collector serves from a thread of the demo's process (``streams.collect.run.
Background``): embedded ClickHouse allows one process per data directory, and the
collector reads its keys (and writes its dead letters) there. The feeder posts the
generated events from a loop of its own, paced by event time, as one JSON array per
tenant every ``FLUSH_SECONDS``; a 200 means Kafka has them, and a 503 or 429 is retried.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import Future
from typing import Any, Final

from aiohttp import ClientSession

from streams.collect.run import Background
from streams.config import Settings
from streams.core.keys import new_key
from streams.queries.keys import store_key
from streams.tools.generate import TrafficSpec, generate
from streams.tools.generate.pace import paced
from streams.tools.post import deliver, session
from streams.warehouse import Warehouse

FLUSH_SECONDS: Final = 0.5
STOP_SECONDS: Final = 15.0


class ViaCollector:
    """A collector on ``port`` and a feeder, with one write key per tenant (made here,
    stored hashed in ``cx.api_keys`` like any other)."""

    def __init__(self, settings: Settings, bootstrap: str, warehouse: Warehouse,
                 tenants: tuple[str, ...], port: int) -> None:
        self.tenants = tenants
        self.keys: dict[str, str] = {}
        for tenant in tenants:
            record, text = new_key(tenant, "write", "cxpulse demo", int(time.time()))
            store_key(warehouse, record)
            self.keys[tenant] = text
        self.collector = Background(settings, bootstrap=bootstrap, port=port)
        self.url = self.collector.url
        self.requests = self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cx-demo-feeder",
                                        daemon=True)
        self._client: ClientSession | None = None

    def start(self) -> None:
        """Serve, and return once the collector listens (else what stopped it: a port in
        use, Kafka or ClickHouse unreachable), with the feeder's loop running."""
        try:
            self.collector.start()
        except OSError as error:
            raise OSError(f"the demo's collector cannot serve {self.url}: {error} (set "
                          "CX_COLLECT_PORT to a free port)") from error
        self._thread.start()
        self._client = self._call(self._open()).result()

    async def _open(self) -> ClientSession:
        return session(2 * len(self.keys))  # keep-alive for the whole demo

    def _call(self, work: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def feed(self, spec: TrafficSpec) -> Future[None]:
        """Send ``spec``'s traffic in real time; done when it is all sent."""
        return self._call(self._feed(spec))

    def send_foreign(self) -> Future[None]:
        """One event naming another tenant, sent with the first tenant's key: the collector
        rejects it (``tenant_mismatch``) and dead-letters it."""
        first, other = self.tenants[0], self.tenants[-1]
        event = {"event_id": f"demo-foreign-{int(time.time())}", "type": "feedback",
                 "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "tenant": other if other != first else f"{first}-other", "channel": "web",
                 "survey": "nps", "score": 10}
        return self._call(self._send({first: [event]}))

    async def _feed(self, spec: TrafficSpec) -> None:
        pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        flushed = time.monotonic()
        async for event in paced(generate(spec), 1.0):
            pending[event["tenant"]].append(event)
            if time.monotonic() - flushed >= FLUSH_SECONDS:
                await self._send(pending)
                pending, flushed = defaultdict(list), time.monotonic()
        await self._send(pending)

    async def _send(self, by_tenant: dict[str, list[dict[str, Any]]]) -> None:
        assert self._client is not None
        answers = await asyncio.gather(*(
            deliver(self._client, self.url, self.keys[tenant], events)
            for tenant, events in by_tenant.items() if events))
        for answer in answers:
            self.requests += 1
            self.accepted += answer.accepted
            self.rejected.update(item["reason"] for item in answer.rejected)
            if answer.status != 200:
                self.failed[answer.error or str(answer.status)] += 1

    def line(self) -> str:
        """What went through the collector so far, for the live view."""
        reasons, failed = dict(self.rejected), dict(self.failed)  # copies: the feeder counts on
        rejected = sum(reasons.values())
        return (f"via collector {self.url}: {self.accepted} events accepted in "
                f"{self.requests} requests, rejected {rejected}"
                + (f" ({', '.join(f'{r} {n}' for r, n in reasons.items())})" if rejected else "")
                + (f"; failed requests: {failed}" if failed else ""))

    def stop(self) -> None:
        """Stop feeding, then serving (requests in flight finish first)."""
        if self._thread.is_alive():
            if self._client is not None:
                self._call(self._client.close()).result(STOP_SECONDS)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_SECONDS)
        self.collector.stop()
