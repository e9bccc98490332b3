"""``cxpulse demo``: worker + traffic generator + a few hostile messages + a live console view.

On a terminal the view is ``cxpulse top``'s full screen, else scrolling text. It
reads the same ClickHouse the worker writes (embedded chdb allows one process per
data directory, so the demo runs everything in this one). Alerts
need a norm to drop from, so the demo first backfills ``--history`` of steady
traffic, then runs live traffic whose incident fires an alert and, once it
passes, resolves it; the detector runs on a demo time scale (``DEMO_ALERTS``).
With ``--via-collector`` the live traffic goes over HTTP through a collector with a
write key per tenant (``via_collector``); the history still goes straight to Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from streams.cli.live import WarehouseSource
from streams.cli.render import alert_line, demo_view, incident_line, landed_line
from streams.cli.screen import State
from streams.cli.top import Live, Terminal
from streams.config import Settings
from streams.core.keys import ALL_TENANTS, new_key
from streams.core.scores import parse_weights
from streams.core.stats import ALL
from streams.kafka.security import KafkaSecurity
from streams.queries.alerting import history
from streams.queries.incidents import listing
from streams.queries.keys import revoke_key, store_key
from streams.queries.landed import landed
from streams.queries.windows import window_scores
from streams.tools.generate import TrafficSpec
from streams.warehouse import Warehouse, WarehouseError, connect

TENANTS = ("acme-shop", "nordwind")
"""The demo's tenants (``cxpulse generate``'s default)."""
REFRESH_SECONDS = 5.0
KEY_SECONDS = 0.2
WINDOW_MS = 3_600_000
CYCLE_SECONDS = 600.0
DEMO_ALERTS = {"alert_seconds": 10.0, "alert_windows": (300.0, 900.0),
               "alert_baseline": 3600.0, "alert_delay": 60.0, "alert_cooldown": 120.0}
"""Minutes instead of hours: windows 5m and 15m against the hour before, a pass every 10 s."""

HOSTILE = [
    b'{"event_id": "demo-bad-1", "type": "feedback", "occurred_at": ',  # truncated JSON
    b'{"event_id": "demo-bad-2", "type": "feedback", "occurred_at": "2026-01-01T00:00:00", '
    b'"tenant": "acme-shop", "channel": "web", "survey": "nps", "score": 9}',  # no offset
    b"\xff\xfe not even UTF-8",
]


def snapshot(warehouse: Warehouse, deadline_ms: int) -> dict[str, Any]:
    """What landed so far, and the live scores of the last hour per tenant and channel."""
    so_far = landed(warehouse)
    scores = window_scores(warehouse, end_ms=int(time.time() * 1000) + 60_000,
                           window_ms=WINDOW_MS, deadline_ms=deadline_ms, touchpoint=ALL)
    return {"counts": so_far.counts, "reasons": so_far.reasons, "scores": scores}


def demo_key(settings: Settings, warehouse: Warehouse) -> tuple[str, Path]:
    """An admin key for reading the demo's worker (``cxpulse top --worker``): stored hashed
    like any other, its text written to a file only its owner reads (never printed, never
    logged); (its id, the file)."""
    record, text = new_key(ALL_TENANTS, "admin", "cxpulse demo", int(time.time()))
    store_key(warehouse, record)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = (settings.data_dir / "demo-key").resolve()
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(text + "\n")
    return record.id, path


def run(settings: Settings, *, duration: float | None, rate: float, scenario: str,
        history_seconds: float, via_collector: bool = False) -> int:
    from streams.kafka.produce import produce_lines
    from streams.worker.app import create_app
    from streams.worker.run import run_worker

    settings = dataclasses.replace(settings, **DEMO_ALERTS)
    warehouse = connect(settings.warehouse_url)
    key = demo_key(settings, warehouse) if settings.api_auth else None
    app = create_app(settings)
    bootstrap = settings.kafka_bootstrap or ""
    produce_lines(bootstrap, KafkaSecurity.of(settings), HOSTILE, topic="cx.feedback")
    # On a terminal the view is `cxpulse top`'s screen, drawn by this process (it owns the
    # embedded ClickHouse); the worker's and the generator's logs go to a file meanwhile.
    terminal = Terminal() if sys.stdout.isatty() else None
    log_path = settings.data_dir / "demo.log"
    log = log_path.open("ab") if terminal else None
    # The incident fills the middle third of each traffic run, so an open-ended demo
    # replays short runs (new seed each) to show it within minutes, again and again.
    run_seconds = duration or CYCLE_SECONDS
    seeds = itertools.count(1)
    via = None
    if via_collector:
        from streams.cli.via_collector import ViaCollector

        via = ViaCollector(settings, bootstrap, warehouse, TENANTS, settings.collect_port)
        via.start()
        via.send_foreign()

    def start_generator(*flags: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "generate", "--rate", str(rate),
             "--seed", str(next(seeds)), *flags],
            env=os.environ | {"CX_KAFKA_BOOTSTRAP": bootstrap}, stdin=subprocess.DEVNULL,
            stdout=log, stderr=log)

    def start_live() -> subprocess.Popen[bytes] | Future[None]:
        if via is not None:
            return via.feed(TrafficSpec(seed=next(seeds), start=time.time(),
                                        duration=run_seconds, rate=rate, scenario=scenario,
                                        tenants=TENANTS))
        return start_generator("--scenario", scenario, "--duration", str(run_seconds))

    def finished(traffic: subprocess.Popen[bytes] | Future[None]) -> bool:
        return traffic.done() if isinstance(traffic, Future) else traffic.poll() is not None

    # The history first (sent at once, event times over the past --history), then live.
    generator: subprocess.Popen[bytes] | Future[None] = start_generator(
        "--scenario", "steady", "--backfill", "--duration", str(history_seconds))
    live = False
    started = time.time()
    shown_alerts = 0
    shown_incidents: set[tuple[str, int]] = set()
    """(id, version) of the incident versions printed (bounded by the demo's incidents)."""
    intro = [f"demo: first {history_seconds / 60:g} min of steady history (the norm alerts "
             "compare with), then live traffic",
             f"demo: Kafka {bootstrap}, ClickHouse {warehouse.description}, scenario {scenario}, "
             f"~{rate:g} events/s; metrics on http://127.0.0.1:{settings.metrics_port}/metrics; "
             "Ctrl-C to stop"]
    worker_url = f"http://127.0.0.1:{settings.metrics_port}"
    intro.append(f"demo: read API {worker_url}/v1/...: cxpulse top --worker {worker_url} --key "
                 f"\"$(cat {key[1]})\" (an admin key made for this demo, revoked when it stops)"
                 if key else f"demo: read API {worker_url}/v1/... open to anyone "
                 "(CX_API_AUTH=off)")
    if via is not None:
        intro.append(f"demo: live traffic goes over HTTP through the collector at {via.url} "
                     f"(POST /v1/events, a write key per tenant: {', '.join(TENANTS)}); one "
                     "event naming another tenant is sent with the wrong key and rejected")
    screen = Live(WarehouseSource(warehouse, settings.followup_deadline_ms,
                                  parse_weights(settings.health_weights)),
                  min_answers=settings.min_answers, state=State())
    reading = asyncio.Lock()  # one read of the embedded ClickHouse at a time

    async def draw_top(fetch: bool) -> None:
        if terminal is None:
            return
        if fetch:
            async with reading:
                so_far = await asyncio.to_thread(landed, warehouse)
                await asyncio.to_thread(screen.refresh)
            screen.notes = [f"demo: {landed_line(so_far.counts, so_far.reasons)}",
                            *([f"demo: {via.line()}"] if via is not None else []),
                            f"demo: scenario {scenario}, ~{rate:g} events/s; logs in {log_path}; "
                            "q or Ctrl-C to stop"]
        terminal.draw(screen.lines(*terminal.size()))

    async def print_scrolling() -> None:
        nonlocal shown_alerts
        view = await asyncio.to_thread(snapshot, warehouse, settings.followup_deadline_ms)
        print(demo_view(view), flush=True)
        if via is not None:
            print(f"  {via.line()}", flush=True)
        changes = await asyncio.to_thread(history, warehouse, since_s=int(started) - 3600)
        for change in changes[shown_alerts:]:
            print(alert_line(change.as_dict()), flush=True)
        shown_alerts = len(changes)
        grouped = await asyncio.to_thread(listing, warehouse, since_s=int(started) - 3600)
        for incident in reversed(grouped):  # oldest first
            if (incident["id"], incident["version"]) not in shown_incidents:
                shown_incidents.add((incident["id"], incident["version"]))
                print(f"  INCIDENT {incident['state']:<8} {incident_line(incident)}",
                      flush=True)

    @app.timer(REFRESH_SECONDS)
    async def show() -> None:
        nonlocal generator, live
        await (draw_top(fetch=True) if terminal else print_scrolling())
        if finished(generator) and (not live or duration is None):
            generator = start_live()
            live = True
        if duration is not None and time.time() - started > duration + 2 * REFRESH_SECONDS:
            os.kill(os.getpid(), signal.SIGTERM)

    if terminal is not None:
        @app.timer(KEY_SECONDS)
        async def keys() -> None:
            """The top screen's keys: tenant, window, q."""
            key = terminal.key(0)
            if key and (screen.press(key) or key == "RESIZE"):
                await draw_top(fetch=True)
            if screen.quit:
                os.kill(os.getpid(), signal.SIGTERM)

    for line in intro:
        print(line, flush=True)
    try:
        with terminal or contextlib.nullcontext():
            if terminal:
                screen.notes = intro
                terminal.draw(screen.lines(*terminal.size()))
            run_worker(app, "warn", logfile=str(log_path) if terminal else None)
    finally:
        if isinstance(generator, Future):
            generator.cancel()
        else:
            generator.terminate()
            generator.wait(timeout=10)
        if via is not None:
            via.stop()
        if key is not None:
            with contextlib.suppress(WarehouseError, OSError):
                revoke_key(warehouse, key[0], int(time.time()))
                key[1].unlink()
        if log is not None:
            log.close()
    return 0
