"""``cxpulse demo --via-collector``: the live traffic enters as a real source's would, over
HTTP through a collector, with a write key per tenant.

The collector runs on a thread of the demo's process, with its own event loop:
embedded ClickHouse allows one process per data directory, and the collector reads
its keys (and writes its dead letters) there. The feeder posts the generated events
on that loop, paced by event time, as one JSON array per tenant every
``FLUSH_SECONDS``; a 200 means Kafka has them, and a 503 or 429 is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import Future
from typing import Any, Final

from aiohttp import ClientSession

from streams.collect.run import serve
from streams.config import Settings
from streams.core.keys import new_key
from streams.queries.keys import store_key
from streams.tools.generate import TrafficSpec, generate
from streams.tools.generate.pace import paced
from streams.tools.post import deliver, session
from streams.warehouse import Warehouse

FLUSH_SECONDS: Final = 0.5
READY_SECONDS: Final = 30.0


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
        self.url = f"http://127.0.0.1:{port}"
        self.requests = self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self._settings, self._bootstrap, self._port = settings, bootstrap, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Task[None] | None = None
        self._client: ClientSession | None = None
        self._ready = threading.Event()
        self._failure = "no answer"
        self._thread = threading.Thread(target=self._run, name="cx-demo-collector",
                                        daemon=True)

    def start(self) -> None:
        """Serve, and return once the collector is listening (else OSError, one line)."""
        self._thread.start()
        if not self._ready.wait(READY_SECONDS) or self._client is None:
            raise OSError(f"the demo's collector did not start on port {self._port} "
                          f"({self._failure}); set CX_COLLECT_PORT to a free port")

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            listening = asyncio.Event()
            self._server = asyncio.create_task(serve(
                self._settings, bootstrap=self._bootstrap, host="127.0.0.1", port=self._port,
                ready=listening))
            waiting = asyncio.create_task(listening.wait())
            await asyncio.wait({self._server, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if self._server.done():
                self._server.result()  # raises why it could not serve
            self._client = session(2 * len(self.keys))  # keep-alive for the whole demo
            try:
                self._ready.set()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._server
            finally:
                await self._client.close()

        try:
            asyncio.run(main())
        except Exception as error:  # reported by start(), in one line
            self._failure = f"{type(error).__name__}: {error}"
        self._ready.set()  # a failed start must not leave start() waiting

    def feed(self, spec: TrafficSpec) -> Future[None]:
        """Send ``spec``'s traffic in real time; done when it is all sent."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(self._feed(spec), self._loop)

    def send_foreign(self) -> Future[None]:
        """One event naming another tenant, sent with the first tenant's key: the collector
        rejects it (``tenant_mismatch``) and dead-letters it."""
        first, other = self.tenants[0], self.tenants[-1]
        event = {"event_id": f"demo-foreign-{int(time.time())}", "type": "feedback",
                 "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "tenant": other if other != first else f"{first}-other", "channel": "web",
                 "survey": "nps", "score": 10}
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(self._send({first: [event]}), self._loop)

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
        """Stop serving (requests in flight finish first) and wait for the thread."""
        if self._loop is not None and self._server is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._server.cancel)
        self._thread.join(timeout=15)
