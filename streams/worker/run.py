"""Start a Faust worker for an app in this process: ``cxpulse worker``, the demo and the bench."""

from __future__ import annotations

import faust


def run_worker(app: faust.App, loglevel: str) -> None:
    """Run ``app``'s Faust worker in this process until it is stopped."""
    from faust.worker import Worker

    worker = Worker(app, loglevel=loglevel, quiet=loglevel != "debug", redirect_stdouts=False)
    worker.spinner = None  # its terminal escapes garble logs and the demo view
    worker.execute_from_commandline()
