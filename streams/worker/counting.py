"""A Faust app whose agent only counts: the framework's own ceiling, for ``cxpulse bench``.

It lives here because only ``streams.worker`` imports faust;
``python -m streams.tools.bench_faust`` runs it.
"""

from __future__ import annotations

import os
import tempfile
import time

import faust
import orjson

from streams.kafka import SOURCE_TOPICS


def counting_app(bootstrap: str, expected: int, port: int) -> faust.App:
    """Prints the rate as JSON and exits the process once ``expected`` messages were taken."""
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

    return app
