"""Serve the collector: in the foreground until SIGINT or SIGTERM (``cxpulse collect``), or
on a thread of its own next to other work (``Background``: the demo, tests)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable

from aiohttp import web

from streams.collect.app import STATE, create_collector, server_options
from streams.config import Settings
from streams.dependencies import folding
from streams.process import limit_arenas, release_memory_every, tune_gc
from streams.web.answers import QuietBadRequests

log = logging.getLogger(__name__)


async def serve(settings: Settings, *, bootstrap: str, host: str, port: int,
                ready: asyncio.Event | None = None) -> None:
    """Run until cancelled or signalled; requests in progress finish first (up to 10 s).
    An outage of Kafka or ClickHouse is a few lines (``streams.dependencies``)."""
    app = create_collector(settings, bootstrap=bootstrap)
    runner = web.AppRunner(app, shutdown_timeout=10.0, handle_signals=False,
                           **server_options(settings))
    with folding(app[STATE].watch):
        await runner.setup()
        releasing = asyncio.create_task(release_memory_every())  # gc tuned as a worker's
        try:
            site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
            await site.start()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
            log.warning("collector listening on http://%s:%d (Kafka %s)", host, port,
                        bootstrap)
            if ready is not None:
                ready.set()
            await stop.wait()
        finally:
            releasing.cancel()
            await runner.cleanup()


def run_collector(settings: Settings, *, bootstrap: str, host: str, port: int) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    logging.getLogger("aiohttp.server").addFilter(QuietBadRequests())
    tune_gc()
    limit_arenas()
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve(settings, bootstrap=bootstrap, host=host, port=port))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed: per request the collector is mostly
    event-loop and HTTP work, which uvloop does in C."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class Background:
    """A collector on its own thread and event loop, serving a real port, for a process that
    does other work (a demo sending through it, tests talking HTTP to it).

    ``start`` returns once it serves, or raises what stopped it from starting (Kafka or
    ClickHouse unreachable, a bad setting); ``stop`` finishes requests in progress first.
    """

    def __init__(self, settings: Settings, *, bootstrap: str, host: str = "127.0.0.1",
                 port: int, warehouse_url: str | None = None) -> None:
        self.app = create_collector(settings, bootstrap=bootstrap, warehouse_url=warehouse_url)
        self.url = f"http://{host}:{port}"
        self._settings = settings
        self._where = (host, port)
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._serve(),), daemon=True, name="collector")

    async def _serve(self) -> None:
        runner = web.AppRunner(self.app, shutdown_timeout=5.0, handle_signals=False,
                               **server_options(self._settings))
        try:
            await runner.setup()
            await web.TCPSite(runner, *self._where, reuse_address=True).start()
        except BaseException as error:
            self._failure = error
            self._started.set()
            await runner.cleanup()
            return
        self._started.set()
        await self._stop.wait()
        await runner.cleanup()

    def start(self, timeout: float = 60.0) -> Background:
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError(f"the collector did not start within {timeout:g}s")
        if self._failure is not None:
            self._thread.join(10)
            raise self._failure
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout)
