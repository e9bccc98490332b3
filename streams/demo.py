"""``cxpulse demo``: worker + traffic generator + a few hostile messages + a live console view.

The view reads the same ClickHouse the worker writes (embedded chdb allows one
process per data directory, so the demo runs everything in this one).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from typing import Any

from streams.config import Settings
from streams.warehouse import Warehouse, connect

REFRESH_SECONDS = 5.0
CYCLE_SECONDS = 600.0

HOSTILE = [
    b'{"event_id": "demo-bad-1", "type": "feedback", "occurred_at": ',  # truncated JSON
    b'{"event_id": "demo-bad-2", "type": "feedback", "occurred_at": "2026-01-01T00:00:00", '
    b'"tenant": "acme-shop", "channel": "web", "survey": "nps", "score": 9}',  # no offset
    b"\xff\xfe not even UTF-8",
]


def snapshot(warehouse: Warehouse, since: int) -> dict[str, Any]:
    """What landed so far, and a per-channel preview of the last minutes from raw rows."""
    db = warehouse.database
    counts = {row["t"]: int(row["n"]) for row in warehouse.query(
        f"SELECT 'interactions' AS t, count() AS n FROM {db}.interactions UNION ALL "
        f"SELECT 'feedback' AS t, count() AS n FROM {db}.feedback UNION ALL "
        f"SELECT 'followups' AS t, count() AS n FROM {db}.followups UNION ALL "
        f"SELECT 'deadletters' AS t, count() AS n FROM {db}.deadletters")}
    reasons = {row["reason"]: int(row["n"]) for row in warehouse.query(
        f"SELECT reason, count() AS n FROM {db}.deadletters GROUP BY reason ORDER BY reason")}
    channels = warehouse.query(
        f"SELECT channel, count() AS n, countIf(outcome = 'failure') AS failures "
        f"FROM {db}.interactions FINAL WHERE occurred_at >= toDateTime({since}) "
        f"GROUP BY channel ORDER BY channel")
    nps = {row["channel"]: row for row in warehouse.query(
        f"SELECT channel, count() AS n, countIf(score >= 9) AS p, countIf(score <= 6) AS d "
        f"FROM {db}.feedback FINAL WHERE survey = 'nps' AND occurred_at >= toDateTime({since}) "
        f"GROUP BY channel")}
    return {"counts": counts, "reasons": reasons, "channels": channels, "nps": nps}


def render(view: dict[str, Any], window_minutes: int) -> str:
    counts = view["counts"]
    lines = [
        f"[{time.strftime('%H:%M:%S')}] landed: interactions {counts.get('interactions', 0)}, "
        f"feedback {counts.get('feedback', 0)}, followups {counts.get('followups', 0)}, "
        f"dead letters {counts.get('deadletters', 0)} "
        + (f"({', '.join(f'{r} {n}' for r, n in view['reasons'].items())})"
           if view["reasons"] else ""),
        f"  last {window_minutes} min by channel   interactions  failure%   NPS (n)",
    ]
    for row in view["channels"]:
        n, failures = int(row["n"]), int(row["failures"])
        nps_row = view["nps"].get(row["channel"])
        nps = "     -"
        if nps_row and int(nps_row["n"]):
            answers = int(nps_row["n"])
            nps = f"{100 * (int(nps_row['p']) - int(nps_row['d'])) / answers:6.1f} ({answers})"
        lines.append(f"  {row['channel']:<22}{n:>12}  {100 * failures / max(n, 1):8.1f}   {nps}")
    return "\n".join(lines)


def run(settings: Settings, *, duration: float | None, rate: float, scenario: str) -> int:
    from streams.app import app
    from streams.cli import run_faust_worker
    from streams.produce import produce_lines

    bootstrap = settings.kafka_bootstrap or ""
    produce_lines(bootstrap, HOSTILE, topic="cx.feedback")
    # The incident fills the middle third of each traffic run, so an open-ended demo
    # replays short runs (new seed each) to show it within minutes, again and again.
    run_seconds = duration or CYCLE_SECONDS
    seeds = itertools.count(1)

    def start_generator() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "generate", "--rate", str(rate), "--scenario",
             scenario, "--duration", str(run_seconds), "--seed", str(next(seeds))],
            env=os.environ | {"CX_KAFKA_BOOTSTRAP": bootstrap}, stdin=subprocess.DEVNULL)

    generator = start_generator()
    warehouse = connect(settings.warehouse_url)
    started = time.time()
    window_minutes = 5

    @app.timer(REFRESH_SECONDS)
    async def show() -> None:
        since = int(time.time()) - window_minutes * 60
        view = await asyncio.to_thread(snapshot, warehouse, since)
        print(render(view, window_minutes), flush=True)
        nonlocal generator
        if duration is None and generator.poll() is not None:
            generator = start_generator()
        if duration is not None and time.time() - started > duration + 2 * REFRESH_SECONDS:
            os.kill(os.getpid(), signal.SIGTERM)

    print(f"demo: Kafka {bootstrap}, ClickHouse {warehouse.description}, scenario {scenario}, "
          f"~{rate:g} events/s; metrics on http://127.0.0.1:{settings.metrics_port}/metrics; "
          "Ctrl-C to stop", flush=True)
    try:
        run_faust_worker("warn")
    finally:
        generator.terminate()
        generator.wait(timeout=10)
    return 0
