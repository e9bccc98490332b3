"""``cxpulse bench``: every layer of the ingest path measured in one run, side by side.

Fresh local brokers, the same generated messages for every stage: the raw
aiokafka ceiling, an empty Faust agent (the framework's ceiling), the batch
ingest path with no work and with validation, the pure validation cost, then
real ``cxpulse worker`` processes end to end into a ClickHouse server (one and
two workers) and into embedded chdb; event -> score latency at 50%, 80% and 90% of
one worker's capacity; each step of a batch through the sink alone (its ceiling, its
share of the time and whether Python or the server bounds it); scoring cost per batch
with and without a month of history stored; and peak memory with 10k and 100k scopes.

The server is ``CX_CLICKHOUSE_URL`` if set, else a private ``clickhouse-server``
started for the run (Debian's package, as ``make test`` installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from streams.comments.pii import masker
from streams.config import Settings
from streams.console import say
from streams.core.ingest import build_batch
from streams.kafka import admin, broker
from streams.kafka.produce import Report, aiter_of, send_stream
from streams.kafka.security import PLAINTEXT
from streams.tools.bench import stages, workers
from streams.warehouse.local import ClickHouseServer

TARGET_PER_WORKER = 60_000
REFERENCE = {"reference_naive_faust_per_s": 4_400, "reference_raw_consume_per_s": 690_000}
HISTORY_FACT_ROWS = 5_000_000
LATENCY_SHARES = (50, 80, 90)
"""Shares of one worker's capacity at which event -> score latency is measured."""
LATENCY_TARGET = (80, 2.0)
"""p99 event -> score under this many seconds at this share of capacity (issue 19)."""
CEILING_TARGET = 0.20
"""One worker end to end as a share of the raw consume ceiling (issue 19)."""


@contextlib.contextmanager
def server_base(settings: Settings, work: Path) -> Iterator[str | None]:
    """``clickhouse://.../`` to which the bench appends a database name per stage."""
    if settings.clickhouse_url:
        yield settings.clickhouse_url.rstrip("/").rsplit("/", 1)[0]
        return
    if shutil.which("clickhouse-server") is None:
        say("  no ClickHouse server (set CX_CLICKHOUSE_URL or install clickhouse-server): "
            "server stages skipped")
        yield None
        return
    server = ClickHouseServer(work / "clickhouse-server")
    server.start()
    try:
        yield server.url("x").rsplit("/", 1)[0]
    finally:
        server.stop()


def run(settings: Settings, *, events: int, output: str | None) -> int:
    now = time.time()
    results: dict[str, Any] = {"events": events, "partitions": settings.partitions,
                               "target_events_per_s": TARGET_PER_WORKER, **REFERENCE}
    with tempfile.TemporaryDirectory(prefix="cxpulse-bench-") as scratch:
        work = Path(scratch)
        records = stages.make_records(events, now)
        with server_base(settings, work) as base:
            local = broker.start(work / "broker")
            try:
                _drain_stages(results, local.bootstrap, settings, work, base, records, now)
            finally:
                broker.stop(local, work / "broker")
            if base:
                _server_stages(results, settings, work, base, records, now)
    print(report(results))
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    if output:
        Path(output).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


def _drain_stages(results: dict[str, Any], bootstrap: str, settings: Settings, work: Path,
                  base: str | None, records: list[stages.KafkaRecord], now: float) -> None:
    """Every stage that drains the same produced messages from the start of the topics."""
    admin.create_topics(bootstrap, settings.partitions, PLAINTEXT)
    say(f"bench: {len(records):,} events, {settings.partitions} partitions, "
        f"ClickHouse server {base or 'none'}")
    sent = asyncio.run(send_stream(bootstrap, PLAINTEXT, aiter_of(records), Report()))
    results["produce_per_s"] = sum(sent.sent.values()) / sent.seconds
    say(f"  produced {sent.summary()}")
    expected = len(records)
    step(results, "raw_consume_per_s", "raw aiokafka consume + orjson decode (ceiling)",
         lambda: asyncio.run(stages.raw_consume_rate(bootstrap, expected)))
    step(results, "empty_faust_agent_per_s", "Faust agent doing nothing",
         lambda: workers.empty_agent_rate(bootstrap, expected))
    step(results, "batch_path_no_work_per_s", "batch ingest path, no work",
         lambda: asyncio.run(stages.ingest_rate(bootstrap, expected, "bench-nowork",
                                                stages.no_work)))
    check, masks = stages.validator(), masker()
    step(results, "batch_path_validate_per_s", "batch ingest path, validate + mask + rows",
         lambda: asyncio.run(stages.ingest_rate(
             bootstrap, expected, "bench-validate",
             lambda batch, at: build_batch(batch, check, at, masks))))
    results["validate_us_per_event"] = stages.validation_cost(records, now)
    say(f"  validate + mask + build rows (pure core, one core): "
        f"{results['validate_us_per_event']:.1f} us/event")
    results.update(stages.masking_cost(stages.generated_comments(records)))
    say(f"  masking personal data: {results['mask_us_per_comment']:.1f} us/comment, "
        f"{results['mask_us_per_comment_with_pii']:.1f} us/comment holding all four kinds")
    targets = [("server", base, 1), ("server", base, 2)] if base else []
    for engine, url, count in [*targets, ("chdb", None, 1)]:
        key = f"{engine}_workers_{count}"
        done = workers.throughput(bootstrap, url, work, count, expected)
        results[key] = done
        say(f"  {count} worker(s) end to end into {engine}: {done['events_per_s']:,.0f} "
            f"events/s, peak RSS {done['peak_rss_mib']:.0f} MiB, worker CPU "
            f"{done['worker_cpu_us_per_event']:.1f} us/event, machine "
            f"{done['machine_busy_share']:.0%} busy")


def _server_stages(results: dict[str, Any], settings: Settings, work: Path, base: str,
                   records: list[stages.KafkaRecord], now: float) -> None:
    capacity = results["server_workers_1"]["events_per_s"]
    if results.get("raw_consume_per_s"):
        results["server_workers_1_share_of_raw"] = capacity / results["raw_consume_per_s"]
    for share in LATENCY_SHARES:
        rate = round(capacity * share / 100, -1)
        done = workers.latency(base, settings.partitions, work, rate, seconds=15)
        results[f"latency_at_{share}pct"] = done
        say(f"  event -> score latency at {share}% ({rate:,.0f} events/s offered, "
            f"{done['sent_per_s']:,.0f}/s sent): p50 {done['p50_s']:.2f}s, "
            f"p99 {done['p99_s']:.2f}s")
    results["sink_stages"] = stages.sink_stages(f"{base}/bench_sink", records, now,
                                                settings.batch_rows)
    for name, done in results["sink_stages"].items():
        say(f"  sink step {name}: {done['per_s']:,.0f}/s, {done['share']:.0%} of the time, "
            f"{done['cpu_us_per_event']:.1f} us CPU/event ({done['bound']})")
    results["scoring"] = stages.scoring_with_history(base, records, now, HISTORY_FACT_ROWS)
    say(f"  scoring a 10k batch: {results['scoring']['empty_ms_per_batch']:.0f} ms empty, "
        f"{results['scoring']['month_ms_per_batch']:.0f} ms with a month stored "
        f"({HISTORY_FACT_ROWS:,} fact rows)")
    for scopes in (10_000, 100_000):
        key = f"memory_{scopes}_scopes"
        results[key] = workers.memory(base, settings.partitions, work, scopes)
        say(f"  {scopes:,} scopes: peak RSS {results[key]['peak_rss_mib']:.0f} MiB")


def step(results: dict[str, Any], key: str, label: str, measure: Any) -> None:
    results[key] = measure()
    say(f"  {label}: {results[key]:,.0f}/s")


BOUNDS = {
    "raw_consume_per_s": "aiokafka fetch + orjson decode, one core",
    "empty_faust_agent_per_s": "Faust's per-message path",
    "batch_path_no_work_per_s": "batch fetch loop + commit",
    "batch_path_validate_per_s": "CPU in Python: validation and rows",
    "server_workers_1": "the write loop (sink steps below, in sequence) on cores shared "
                        "with ClickHouse and the broker",
    "server_workers_2": "the same, two workers on the same two cores",
    "chdb_workers_1": "the write loop, ClickHouse in the worker's process",
}
LABELS = {
    "raw_consume_per_s": "raw aiokafka consume + orjson (ceiling)",
    "empty_faust_agent_per_s": "Faust agent doing nothing",
    "batch_path_no_work_per_s": "batch ingest path, no work",
    "batch_path_validate_per_s": "batch ingest path, validate + rows",
    "server_workers_1": "1 worker end to end, ClickHouse server",
    "server_workers_2": "2 workers end to end, ClickHouse server",
    "chdb_workers_1": "1 worker end to end, chdb (embedded)",
}


def _cpu(done: Any) -> str:
    """The workers' CPU per event and how busy the machine was, for a worker stage."""
    if not isinstance(done, dict) or "worker_cpu_us_per_event" not in done:
        return ""
    return (f" (worker CPU {done['worker_cpu_us_per_event']:.1f} us/event, machine "
            f"{done['machine_busy_share']:.0%} busy)")


def report(results: dict[str, Any]) -> str:
    """The side-by-side table for people (the JSON follows it): each stage's rate and what
    bounds it, then the sink's steps alone, then the targets."""
    def rate(key: str) -> str:
        value = results.get(key)
        value = value.get("events_per_s") if isinstance(value, dict) else value
        return "-" if value is None else f"{value:,.0f}/s"

    lines = [f"{'stage':46}{'rate':>11}  bound"]
    lines += [f"{label:46}{rate(key):>11}  {BOUNDS[key]}{_cpu(results.get(key))}"
              for key, label in LABELS.items()]
    for name, done in (results.get("sink_stages") or {}).items():
        label = stages.SINK_STAGES.get(name, "sink steps together, one core")
        lines.append(f"{'  sink: ' + label:46}{done['per_s']:>9,.0f}/s  {done['bound']}; "
                     f"{done['share']:.0%} of the sink's time, CPU "
                     f"{done['cpu_us_per_event']:.1f} us/event (Python {done['cpu_share']:.0%}, "
                     f"server {done['server_cpu_share']:.0%} of its time)")
    whole = (results.get("sink_stages") or {}).get("all")
    if whole:
        cores = os.cpu_count() or 1
        lines.append(f"sink CPU {whole['cpu_us_per_event']:.1f} us/event (Python + server): "
                     f"{whole['events_per_cpu_s']:,.0f} events per CPU-second, at most "
                     f"{whole['events_per_cpu_s'] * cores:,.0f}/s on this machine's {cores} "
                     "cores before Kafka, the broker and enrichment take theirs")
    ceiling = results.get("raw_consume_per_s") or 0.0
    one = (results.get("server_workers_1") or {}).get("events_per_s", 0.0)
    two = (results.get("server_workers_2") or {}).get("events_per_s", 0.0)
    if one and ceiling:
        lines.append(f"1 worker / raw ceiling: {one / ceiling:.1%} (target "
                     f"{CEILING_TARGET:.0%});  2 workers / 1 worker: {two / one:.2f}x;  "
                     f"target {TARGET_PER_WORKER:,}/s per worker")
    for share in LATENCY_SHARES:
        done = results.get(f"latency_at_{share}pct")
        if done:
            target = f" (target p99 < {LATENCY_TARGET[1]:.0f}s)" \
                if share == LATENCY_TARGET[0] else ""
            lines.append(f"latency at {share}% of capacity ({done['rate']:,.0f}/s): "
                         f"p50 {done['p50_s']:.2f}s p99 {done['p99_s']:.2f}s{target}")
    return "\n".join(lines)
