"""Serve the collector in this process until SIGINT or SIGTERM (``cxpulse collect``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from streams.collect.app import create_collector, server_options
from streams.config import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings, *, bootstrap: str, host: str, port: int,
                ready: asyncio.Event | None = None) -> None:
    """Run until cancelled or signalled; requests in progress finish first (up to 10 s)."""
    runner = web.AppRunner(create_collector(settings, bootstrap=bootstrap),
                           shutdown_timeout=10.0, handle_signals=False,
                           **server_options(settings))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        log.warning("collector listening on http://%s:%d (Kafka %s)", host, port, bootstrap)
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        await runner.cleanup()


class QuietBadRequests(logging.Filter):
    """Drop aiohttp's traceback for a request it could not parse (a hostile header, a broken
    client): the client got its 400, and a flood of them must not flood the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, HttpProcessingError)


def run_collector(settings: Settings, *, bootstrap: str, host: str, port: int) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    logging.getLogger("aiohttp.server").addFilter(QuietBadRequests())
    asyncio.run(serve(settings, bootstrap=bootstrap, host=host, port=port))
