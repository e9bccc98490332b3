"""A Faust app whose agent only counts: the framework's own ceiling, for ``cxpulse bench``.

Run as ``python -m streams.bench_faust BOOTSTRAP EXPECTED PORT``; it prints the
rate as JSON and exits once EXPECTED messages were taken.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import faust
import orjson

from streams.kafka import SOURCE_TOPICS


def main() -> None:
    bootstrap, expected, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    app = faust.App("bench-empty-agent", broker=f"kafka://{bootstrap}", autodiscover=False,
                    datadir=tempfile.mkdtemp(prefix="cxpulse-bench-faust-"), web_port=port,
                    consumer_auto_offset_reset="earliest", value_serializer="raw")
    state = {"seen": 0, "started": 0.0}

    @app.agent(app.topic(*SOURCE_TOPICS, value_serializer="raw"), concurrency=1)
    async def count(stream: faust.StreamT) -> None:
        async for events in stream.take_events(10_000, within=0.5):
            state["started"] = state["started"] or time.perf_counter()
            state["seen"] += len(events)
            if state["seen"] >= expected:
                rate = state["seen"] / (time.perf_counter() - state["started"])
                print(orjson.dumps({"events_per_s": rate}).decode(), flush=True)
                os._exit(0)

    from faust.worker import Worker

    worker = Worker(app, loglevel="error", quiet=True, redirect_stdouts=False)
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
