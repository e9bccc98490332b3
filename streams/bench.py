"""``cxpulse bench``: ingest throughput of one worker against a fresh local broker.

Measured in one run, so the numbers compare: the raw aiokafka consume + orjson
decode rate over the same messages (the ceiling), a Faust agent that does
nothing (the framework's own ceiling), the pure validation cost,
and the end-to-end rate of a real ``cxpulse worker`` process into ClickHouse
(embedded by default, or ``CX_CLICKHOUSE_URL``), with its peak memory.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from streams import broker, kafka
from streams.config import Settings
from streams.contract import Validator
from streams.generate import TrafficSpec, generate
from streams.ingest import build_batch
from streams.produce import Report, _aiter, record_of, send_stream
from streams.rows import Source


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


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


def rows_written(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
        return sum(float(line.rsplit(" ", 1)[1]) for line in page.read().decode().splitlines()
                   if line.startswith("cx_sink_rows_total{"))


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def empty_agent_rate(bootstrap: str, expected: int) -> float:
    """Messages/s of a Faust agent that does nothing but take batches: Faust's ceiling."""
    command = [sys.executable, "-m", "streams.bench_faust", bootstrap, str(expected),
               str(broker.free_port())]
    result = subprocess.run(command, capture_output=True, timeout=max(120, expected / 500))
    lines = [line for line in result.stdout.splitlines() if line.startswith(b"{")]
    if not lines:
        raise RuntimeError(f"empty Faust agent failed: {result.stderr.decode()[-500:]}")
    return float(orjson.loads(lines[-1])["events_per_s"])


def worker_rate(bootstrap: str, settings: Settings, work: Path, expected: int) -> dict[str, Any]:
    port = broker.free_port()
    env = os.environ | {"CX_KAFKA_BOOTSTRAP": bootstrap, "CX_DATA_DIR": str(work / "worker"),
                        "CX_METRICS_PORT": str(port), "CX_APP_ID": "bench"}
    if settings.clickhouse_url:
        env["CX_CLICKHOUSE_URL"] = settings.clickhouse_url
    log = (work / "worker.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker", "--loglevel",
                                "warn"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        first = done = None
        deadline = time.monotonic() + max(120, expected / 500)
        written = 0.0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                written = rows_written(port)
            except OSError:
                written = 0.0
            now = time.perf_counter()
            if written and first is None:
                first = now
            if written >= expected:
                done = now
                break
            time.sleep(0.05)
        if done is None or first is None:
            raise RuntimeError(f"worker wrote {written:.0f} of {expected} rows; see {log.name}")
        return {"events_per_s": expected / (done - first), "seconds": done - first,
                "peak_rss_mib": peak_rss_mib(process.pid)}
    finally:
        process.terminate()
        process.wait(timeout=30)


def run(settings: Settings, *, events: int, output: str | None) -> int:
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="cxpulse-bench-") as scratch:
        work = Path(scratch)
        local = broker.start(work / "broker")
        try:
            kafka.create_topics(local.bootstrap, settings.partitions)
            say(f"bench: {events} events, {settings.partitions} partitions, local broker "
                f"{local.bootstrap}, ClickHouse {settings.clickhouse_url or 'embedded (chdb)'}")
            records = make_records(events, now)
            report = asyncio.run(send_stream(local.bootstrap, _aiter(records), Report()))
            say(f"  produced {report.summary()}")
            raw = asyncio.run(raw_consume_rate(local.bootstrap, kafka.SOURCE_TOPICS,
                                               len(records)))
            say(f"  raw aiokafka consume + orjson decode: {raw:,.0f} msg/s")
            empty = empty_agent_rate(local.bootstrap, len(records))
            say(f"  Faust agent doing nothing (take_events): {empty:,.0f} msg/s")
            cost = validation_cost(records, now)
            say(f"  validate + build rows (pure core): {cost:.1f} us/event "
                f"= {1e6 / cost:,.0f} events/s on one core")
            worker = worker_rate(local.bootstrap, settings, work, len(records))
            say(f"  worker end to end (decode, validate, write ClickHouse): "
                f"{worker['events_per_s']:,.0f} events/s ({worker['seconds']:.1f}s), "
                f"peak RSS {worker['peak_rss_mib']:.0f} MiB")
        finally:
            broker.stop(local, work / "broker")
    results = {"events": len(records), "partitions": settings.partitions,
               "produce_per_s": sum(report.sent.values()) / report.seconds,
               "raw_consume_per_s": raw, "empty_faust_agent_per_s": empty,
               "validate_us_per_event": cost,
               "worker_events_per_s": worker["events_per_s"],
               "worker_peak_rss_mib": worker["peak_rss_mib"],
               "target_events_per_s": 50_000, "reference_naive_faust_per_s": 4_400,
               "reference_raw_consume_per_s": 690_000}
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    if output:
        Path(output).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0
