"""``cxpulse bench``: throughput, latency and memory against fresh local brokers.

Measured in one run, so the numbers compare: the raw aiokafka consume + orjson
decode rate over the same messages (the ceiling), a Faust agent that does
nothing (the framework's own ceiling), the pure validation cost, and real
``cxpulse worker`` processes into ClickHouse (embedded by default, or
``CX_CLICKHOUSE_URL``): end-to-end rate for one and two workers, event -> score
latency at half of that rate, and peak memory for 10k and 100k scopes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from streams import kafka
from streams.cli.render import say
from streams.config import Settings
from streams.core.contract import Validator
from streams.core.ingest import build_batch
from streams.core.rows import Source
from streams.kafka import admin, broker
from streams.kafka.produce import Report, aiter_of, record_of, send_stream
from streams.tools.generate import TrafficSpec, generate


def make_records(count: int, now: float) -> list[tuple[str, bytes | None, bytes]]:
    spec = TrafficSpec(seed=1, start=now - 3600, duration=3600, rate=1.1 * count / 3600,
                       scenario="incident")
    records = [record_of(event) for event in generate(spec)]
    return records[:count]


async def raw_consume_rate(bootstrap: str, topics: tuple[str, ...], expected: int) -> float:
    """The ceiling: aiokafka fetch + orjson decode, nothing else."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id="bench-raw",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
    await consumer.start()
    try:
        seen, started = 0, None
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=50_000)
            started = started or time.perf_counter()
            for messages in batches.values():
                for message in messages:
                    orjson.loads(message.value)
                seen += len(messages)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def validation_cost(records: list[tuple[str, bytes | None, bytes]], now: float) -> float:
    """Microseconds per message for validation and row building (pure core, one core)."""
    validator = Validator(max_event_bytes=65536, max_age_seconds=30 * 86400)
    sample = records[:20_000]
    started = time.perf_counter()
    build_batch(((Source(t, 0, i), v) for i, (t, _, v) in enumerate(sample)), validator, now)
    return (time.perf_counter() - started) / len(sample) * 1e6


def metric_lines(port: int) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
        return page.read().decode().splitlines()


def rows_written(port: int) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in metric_lines(port)
               if line.startswith("cx_sink_rows_total{"))


def histogram_quantile(lines: list[str], name: str, q: float) -> float:
    """Quantile from cumulative Prometheus buckets, interpolated linearly within a bucket."""
    buckets = sorted((float(line.split('le="')[1].split('"')[0]), float(line.rsplit(" ", 1)[1]))
                     for line in lines if line.startswith(f"{name}_bucket{{"))
    total = buckets[-1][1] if buckets else 0.0
    lower_bound = lower_count = 0.0
    for bound, count in buckets:
        if count >= q * total:
            if bound == float("inf"):
                return lower_bound
            share = (q * total - lower_count) / max(count - lower_count, 1e-9)
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return float("nan")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def empty_agent_rate(bootstrap: str, expected: int) -> float:
    """Messages/s of a Faust agent that does nothing but take batches: Faust's ceiling."""
    command = [sys.executable, "-m", "streams.tools.bench_faust", bootstrap, str(expected),
               str(broker.free_port())]
    result = subprocess.run(command, capture_output=True, timeout=max(120, expected / 500))
    lines = [line for line in result.stdout.splitlines() if line.startswith(b"{")]
    if not lines:
        raise RuntimeError(f"empty Faust agent failed: {result.stderr.decode()[-500:]}")
    return float(orjson.loads(lines[-1])["events_per_s"])


class Workers:
    """``cxpulse worker`` processes on a bench broker, each with its own metrics port."""

    def __init__(self, bootstrap: str, url: str, work: Path, name: str, count: int,
                 extra: dict[str, str] | None = None) -> None:
        self.ports = [broker.free_port() for _ in range(count)]
        self.processes = []
        for index, port in enumerate(self.ports):
            env = os.environ | {"CX_KAFKA_BOOTSTRAP": bootstrap, "CX_CLICKHOUSE_URL": url,
                                "CX_DATA_DIR": str(work / f"{name}-{index}"),
                                "CX_METRICS_PORT": str(port), "CX_APP_ID": f"bench-{name}",
                                "CX_SESSION_TIMEOUT": "6"} | (extra or {})
            log = (work / f"{name}-{index}.log").open("wb")
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warn"],
                env=env, stdout=log, stderr=subprocess.STDOUT))

    def written(self) -> float:
        total = 0.0
        for port, process in zip(self.ports, self.processes, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"a bench worker exited with {process.returncode}")
            with contextlib.suppress(OSError):  # not serving yet
                total += rows_written(port)
        return total

    def wait_for(self, expected: int) -> float:
        """Seconds from the first row written to ``expected`` rows written."""
        first = None
        deadline = time.monotonic() + max(180, expected / 200)
        while time.monotonic() < deadline:
            written = self.written()
            if written and first is None:
                first = time.perf_counter()
            if written >= expected and first is not None:
                return max(time.perf_counter() - first, 1e-3)
            # Rendering /metrics costs the worker CPU (thousands of gauge series once
            # scores flow): poll gently, as Prometheus would, not in a tight loop.
            time.sleep(0.5)
        raise RuntimeError(f"workers wrote {self.written():.0f} of {expected} rows")

    def wait_assigned(self, partitions: int, timeout: float = 120) -> None:
        """Until the group owns every source partition: latency then excludes the join."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            owned = 0.0
            for port in self.ports:
                with contextlib.suppress(OSError):
                    owned += sum(float(line.rsplit(" ", 1)[1]) for line in metric_lines(port)
                                 if line.startswith("cx_assigned_partitions "))
            if owned >= partitions:
                return
            time.sleep(0.2)
        raise RuntimeError(f"bench workers never owned all {partitions} partitions")

    def peak_rss_mib(self) -> float:
        return max(peak_rss_mib(process.pid) for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)


def warehouse_for(settings: Settings, work: Path, name: str) -> str:
    """A fresh database per phase, so every phase writes every row."""
    if settings.clickhouse_url:
        return settings.clickhouse_url.rstrip("/").rsplit("/", 1)[0] + f"/bench_{name}"
    return f"chdb://{work / name / 'clickhouse'}"


def throughput(bootstrap: str, settings: Settings, work: Path, count: int,
               expected: int) -> dict[str, float]:
    name = f"throughput{count}"
    workers = Workers(bootstrap, warehouse_for(settings, work, name), work, name, count)
    try:
        seconds = workers.wait_for(expected)
        return {"events_per_s": expected / seconds, "seconds": seconds,
                "peak_rss_mib": workers.peak_rss_mib()}
    finally:
        workers.stop()


def latency(settings: Settings, work: Path, rate: float, seconds: float) -> dict[str, float]:
    """Event -> score latency of one worker fed at a steady rate below its capacity."""
    local = broker.start(work / "latency-broker")
    try:
        admin.create_topics(local.bootstrap, settings.partitions)
        workers = Workers(local.bootstrap, warehouse_for(settings, work, "latency"), work,
                          "latency", 1)
        try:
            workers.wait_assigned(3 * settings.partitions)
            now = time.time()
            spec = TrafficSpec(seed=2, start=now - seconds, duration=seconds, rate=rate)
            events = list(generate(spec))

            async def paced() -> Any:
                started = time.monotonic()
                for index, event in enumerate(events):
                    delay = index / rate - (time.monotonic() - started)
                    if delay > 0:
                        await asyncio.sleep(delay)
                    yield record_of(event)

            asyncio.run(send_stream(local.bootstrap, paced(), Report()))
            workers.wait_for(len(events))
            lines = metric_lines(workers.ports[0])
            return {"rate": rate, "events": len(events),
                    "p50_s": histogram_quantile(lines, "cx_score_latency_seconds", 0.5),
                    "p99_s": histogram_quantile(lines, "cx_score_latency_seconds", 0.99)}
        finally:
            workers.stop()
    finally:
        broker.stop(local, work / "latency-broker")


def scope_events(scopes: int, now: float) -> list[tuple[str, bytes | None, bytes]]:
    """One interaction and one NPS answer per scope, spread over 10 tenants and 8 channels."""
    channels = ("web", "mobile_app", "email", "chat", "messaging", "voice", "store", "social")
    records = []
    stamp = datetime.fromtimestamp(now - 600, UTC).isoformat()
    for index in range(scopes):
        base = {"occurred_at": stamp, "tenant": f"tenant-{index % 10}",
                "channel": channels[index // 10 % 8], "touchpoint": f"tp-{index // 80}"}
        records.append(record_of(base | {"event_id": f"i{index}", "type": "interaction",
                                         "kind": "visit"}))
        records.append(record_of(base | {"event_id": f"f{index}", "type": "feedback",
                                         "survey": "nps", "score": index % 11}))
    return records


def memory(settings: Settings, work: Path, scopes: int) -> dict[str, float]:
    """Peak RSS of one worker that scored ``scopes`` scopes and published snapshots of them."""
    local = broker.start(work / f"memory-broker-{scopes}")
    try:
        admin.create_topics(local.bootstrap, settings.partitions)
        records = scope_events(scopes, time.time())
        asyncio.run(send_stream(local.bootstrap, aiter_of(records), Report()))
        name = f"memory{scopes}"
        workers = Workers(local.bootstrap, warehouse_for(settings, work, name), work, name, 1,
                          {"CX_SNAPSHOT_SECONDS": "5"})
        try:
            workers.wait_for(len(records))
            time.sleep(6)  # let the leader compute and publish a few snapshots of every scope
            return {"scopes": scopes, "peak_rss_mib": workers.peak_rss_mib()}
        finally:
            workers.stop()
    finally:
        broker.stop(local, work / f"memory-broker-{scopes}")


def run(settings: Settings, *, events: int, output: str | None) -> int:
    now = time.time()
    results: dict[str, Any] = {"events": events, "partitions": settings.partitions,
                               "clickhouse": "server" if settings.clickhouse_url else "chdb",
                               "target_events_per_s": 50_000,
                               "reference_naive_faust_per_s": 4_400,
                               "reference_raw_consume_per_s": 690_000}
    with tempfile.TemporaryDirectory(prefix="cxpulse-bench-") as scratch:
        work = Path(scratch)
        local = broker.start(work / "broker")
        try:
            admin.create_topics(local.bootstrap, settings.partitions)
            say(f"bench: {events} events, {settings.partitions} partitions, local broker "
                f"{local.bootstrap}, ClickHouse {settings.clickhouse_url or 'embedded (chdb)'}")
            records = make_records(events, now)
            report = asyncio.run(send_stream(local.bootstrap, aiter_of(records), Report()))
            results["produce_per_s"] = sum(report.sent.values()) / report.seconds
            say(f"  produced {report.summary()}")
            results["raw_consume_per_s"] = asyncio.run(
                raw_consume_rate(local.bootstrap, kafka.SOURCE_TOPICS, len(records)))
            say(f"  raw aiokafka consume + orjson decode: {results['raw_consume_per_s']:,.0f}/s")
            results["empty_faust_agent_per_s"] = empty_agent_rate(local.bootstrap, len(records))
            say(f"  Faust agent doing nothing: {results['empty_faust_agent_per_s']:,.0f}/s")
            results["validate_us_per_event"] = validation_cost(records, now)
            say(f"  validate + build rows (pure core): {results['validate_us_per_event']:.1f} "
                "us/event")
            for count in (1, 2) if settings.clickhouse_url else (1,):
                done = throughput(local.bootstrap, settings, work, count, len(records))
                results[f"workers_{count}"] = done
                say(f"  {count} worker(s) end to end (validate, raw rows, scores): "
                    f"{done['events_per_s']:,.0f} events/s, peak RSS {done['peak_rss_mib']:.0f} "
                    "MiB")
            if not settings.clickhouse_url:
                say("  2 workers: skipped (embedded ClickHouse is one process; set "
                    "CX_CLICKHOUSE_URL)")
        finally:
            broker.stop(local, work / "broker")
        rate = round(results["workers_1"]["events_per_s"] / 2, -1) or 10.0
        results["latency"] = latency(settings, work, rate, seconds=20)
        say(f"  event -> score latency at {rate:,.0f} events/s: p50 "
            f"{results['latency']['p50_s']:.2f}s, p99 {results['latency']['p99_s']:.2f}s")
        for scopes in (10_000, 100_000):
            results[f"memory_{scopes}_scopes"] = memory(settings, work, scopes)
            say(f"  {scopes:,} scopes: peak RSS "
                f"{results[f'memory_{scopes}_scopes']['peak_rss_mib']:.0f} MiB")
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    if output:
        Path(output).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0
