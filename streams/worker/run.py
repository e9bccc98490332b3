"""Start a Faust worker for an app in this process: ``cxpulse worker``, the demo and the bench."""

from __future__ import annotations

import faust

from streams.process import limit_arenas, tune_gc


def run_worker(app: faust.App, loglevel: str, logfile: str | None = None) -> None:
    """Run ``app``'s Faust worker in this process until it is stopped; logs to stderr, or
    to ``logfile`` (the demo's full-screen view owns the terminal)."""
    from faust.worker import Worker

    worker = Worker(app, loglevel=loglevel, quiet=loglevel != "debug", redirect_stdouts=False,
                    logfile=logfile)
    worker.spinner = None  # its terminal escapes garble logs and the demo view
    tune_gc()
    limit_arenas()
    worker.execute_from_commandline()
