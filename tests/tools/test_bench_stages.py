"""The bench's per-step view of the sink: every step of a batch measured on the same
records, with the share of its time and what bounds it, and the table that shows it."""

from __future__ import annotations

import time

from streams.tools.bench import report, stages


def test_each_sink_step_is_measured_with_its_share_and_bound(server_url: str) -> None:
    records = stages.make_records(1500, time.time())
    found = stages.sink_stages(server_url, records, time.time(), batch_rows=500)
    assert list(found) == [*stages.SINK_STAGES, "all"]
    steps = [found[name] for name in stages.SINK_STAGES]
    assert abs(sum(step["share"] for step in steps) - 1.0) < 1e-9
    assert all(step["per_s"] > 0 and 0 <= step["cpu_share"] <= 1 for step in steps)
    assert all(step["bound"].startswith(("CPU in Python", "ClickHouse server CPU"))
               and step["cpu_us_per_event"] > 0 for step in steps)
    assert found["raw_insert"]["server_cpu_share"] > 0
    assert found["validate"]["bound"].startswith("CPU in Python")  # no query in it
    # Steps in sequence: the whole is slower than its slowest step.
    assert found["all"]["per_s"] < min(step["per_s"] for step in steps)
    table = report({"raw_consume_per_s": 200_000.0, "sink_stages": found,
                    "server_workers_1": {"events_per_s": 50_000.0,
                                         "worker_cpu_us_per_event": 21.0,
                                         "machine_busy_share": 0.97},
                    "latency_at_80pct": {"rate": 40_000.0, "p50_s": 0.5, "p99_s": 1.5}})
    assert "sink: settle: hour and day rollups rewritten" in table
    assert "(worker CPU 21.0 us/event, machine 97% busy)" in table
    assert "events per CPU-second" in table
    assert "1 worker / raw ceiling: 25.0% (target 20%)" in table
    assert "latency at 80% of capacity (40,000/s): p50 0.50s p99 1.50s (target p99 < 2s)" \
        in table
