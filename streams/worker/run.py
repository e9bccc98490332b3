"""Start a Faust worker for an app in this process: ``cxpulse worker``, the demo and the bench."""

from __future__ import annotations

import faust


def run_worker(app: faust.App, loglevel: str, logfile: str | None = None) -> None:
    """Run ``app``'s Faust worker in this process until it is stopped; logs to stderr, or
    to ``logfile`` (the demo's full-screen view owns the terminal)."""
    from faust.worker import Worker

    worker = Worker(app, loglevel=loglevel, quiet=loglevel != "debug", redirect_stdouts=False,
                    logfile=logfile)
    worker.spinner = None  # its terminal escapes garble logs and the demo view
    tune_gc()
    worker.execute_from_commandline()


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path.

    A batch allocates tens of thousands of short-lived, acyclic objects (rows,
    events) that reference counting frees; with the default thresholds the
    collector still runs hundreds of times per batch and scans everything alive,
    which measured about a third of validation time. Objects from start-up are
    frozen out of its sight, and it runs after 50,000 allocations instead of 700.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
