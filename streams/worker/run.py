"""Start a Faust worker for an app in this process: ``cxpulse worker``, the demo and the bench."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

import faust

from streams.process import limit_arenas, tune_gc

log = logging.getLogger(__name__)

STOP_GRACE_S = 15.0
"""How much longer than the drain bound (``CX_SESSION_TIMEOUT``) a stop may take before the
process ends itself: Faust's consumer thread can wait forever on a broker that is gone
(faust-streaming/mode#54), and committed offsets make ending safe (the rest is replayed)."""


def _end_after(seconds: float, code: int) -> None:
    """End the process with ``code`` in ``seconds`` unless it has ended by then."""
    def end() -> None:
        log.warning("worker: the stop did not finish in %.0f s (Kafka or ClickHouse away?); "
                    "ending now, what was not committed will be read again", seconds)
        logging.shutdown()
        os._exit(code)

    timer = threading.Timer(seconds, end)
    timer.daemon = True
    timer.start()


def _thread_ended(args: threading.ExceptHookArgs) -> None:
    """A thread cancelled while stopping (Faust's consumer thread, waiting on a broker that
    is gone) is one line, not a traceback; anything else as Python reports it."""
    if isinstance(args.exc_value, asyncio.CancelledError):
        log.warning("worker: %s cancelled while stopping",
                    args.thread.name if args.thread else "a thread")
        return
    threading.__excepthook__(args)


def run_worker(app: faust.App, loglevel: str, logfile: str | None = None) -> None:
    """Run ``app``'s Faust worker in this process until it is stopped; logs to stderr, or
    to ``logfile`` (the demo's full-screen view owns the terminal). A stop ends within
    ``CX_SESSION_TIMEOUT`` + ``STOP_GRACE_S``, whatever Kafka does."""
    from faust.worker import Worker

    bound = float(app.conf.broker_session_timeout) + STOP_GRACE_S

    class BoundedStop(Worker):
        armed = False

        def _arm(self, code: int) -> None:
            if not self.armed:
                self.armed = True
                _end_after(bound, code)

        def _schedule_shutdown(self, signal: Any) -> None:
            self._arm(0)  # asked to stop
            super()._schedule_shutdown(signal)

        def stop_and_shutdown(self) -> None:
            self._arm(1)  # stopping after a crash
            super().stop_and_shutdown()

    worker = BoundedStop(app, loglevel=loglevel, quiet=loglevel != "debug",
                         redirect_stdouts=False, logfile=logfile)
    worker.spinner = None  # its terminal escapes garble logs and the demo view
    threading.excepthook = _thread_ended
    tune_gc()
    limit_arenas()
    worker.execute_from_commandline()
