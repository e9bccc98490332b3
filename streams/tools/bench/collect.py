"""``cxpulse bench collect``: what one collector process takes, with Kafka acks on.

A fresh local broker; a ClickHouse for the key table (``CX_CLICKHOUSE_URL``, else a
private ``clickhouse-server``, else embedded chdb); a write key made by ``cxpulse
keys create``; one ``cxpulse collect`` process. A load client in this process
(aiohttp on uvloop, keep-alive connections) measures:

- **capacity**, closed loop: N connections each posting as fast as answers come,
  single-event requests, then 100-event batches: requests/s and events/s;
- **latency**, open loop: requests sent on a fixed schedule at 50% and 90% of each
  capacity, p50 and p99 counted from the scheduled time (so queueing counts);
- **nothing lost**: the source topics hold as many messages as events were accepted.

Each phase also reads the collector's own Kafka acknowledgement histogram
(``cx_collect_ack_seconds``) from its /metrics, so a request's latency splits into
Kafka's share and the rest.

The client shares the machine with the collector and the broker, so the collector's
own CPU time (from /proc) is reported too: events per CPU-second of the collector is
its capacity on a core of its own.
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
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
import orjson

from streams.config import Settings
from streams.console import say
from streams.kafka import DEADLETTER_TOPIC, SOURCE_TOPICS, admin, broker
from streams.kafka.security import PLAINTEXT
from streams.ports import free_port
from streams.tools.bench import server_base
from streams.tools.bench.workers import (
    bucket_delta,
    bucket_quantile,
    cpu_s,
    histogram_buckets,
    metric_lines,
    warehouse_for,
)
from streams.tools.generate import TrafficSpec, generate
from streams.tools.post import EVENTS_PATH, key_headers, post, session

T = TypeVar("T")
TENANT: Final = "bench"
BATCH: Final = 100
TARGETS: Final = {"batch_events_per_s": 20_000, "single_requests_per_s": 2_000,
                  "p99_ms_at_50pct": 50.0}
REFERENCE: Final = {"rudderstack_events_per_s_per_node": "1.7k-3k"}
CONNECTIONS: Final = {"single": 64, "batch": 16}
POOL: Final = 20_000
"""Distinct events sent (cycled): the check counts Kafka messages, not distinct ids."""


@dataclass(frozen=True)
class Plan:
    capacity_seconds: float
    latency_seconds: float
    warmup_seconds: float


FULL = Plan(capacity_seconds=10.0, latency_seconds=10.0, warmup_seconds=2.0)
QUICK = Plan(capacity_seconds=2.0, latency_seconds=2.0, warmup_seconds=0.5)


@dataclass(frozen=True)
class Stack:
    """What a bench run talks to."""

    bootstrap: str
    url: str
    port: int
    key: str
    pids: dict[str, int]
    """CPU time is read for ``collector``, ``broker`` and ``client`` (this process)."""


ACK_HISTOGRAM: Final = "cx_collect_ack_seconds"


def ack_buckets(port: int) -> list[tuple[float, float]]:
    return histogram_buckets(metric_lines(port), ACK_HISTOGRAM)


def ack_quantiles(before: list[tuple[float, float]],
                  after: list[tuple[float, float]]) -> dict[str, float]:
    """Kafka ack p50/p99 (ms) of the requests between two reads of the histogram."""
    phase = bucket_delta(before, after)
    return {f"kafka_ack_{name}_ms": round(1000 * bucket_quantile(phase, q), 2)
            for name, q in (("p50", 0.5), ("p99", 0.99))}


@dataclass
class Tally:
    """What one phase sent and got back."""

    requests: int = 0
    accepted: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def summary(self, seconds: float) -> dict[str, Any]:
        spent = np.array(self.latencies or [float("nan")])
        return {"requests": self.requests, "accepted": self.accepted,
                "seconds": round(seconds, 2),
                "requests_per_s": round(self.requests / seconds, 1),
                "events_per_s": round(self.accepted / seconds, 1),
                "p50_ms": round(1000 * float(np.percentile(spent, 50)), 2),
                "p99_ms": round(1000 * float(np.percentile(spent, 99)), 2),
                "failed": {str(status): n for status, n in sorted(self.statuses.items())
                           if status != 200}}


def bodies(tenant: str, now: float) -> dict[str, list[bytes]]:
    """Pre-encoded request bodies: one event each, and ``BATCH`` events each (a JSON array),
    from generated traffic of the last hour, so the client spends its time sending."""
    spec = TrafficSpec(seed=11, start=now - 3600, duration=3500, rate=POOL / 3500 * 1.2,
                       tenants=(tenant,))
    events = [event for _, event in zip(range(POOL), generate(spec), strict=False)]
    return {"single": [orjson.dumps(event) for event in events],
            "batch": [orjson.dumps(events[i:i + BATCH])
                      for i in range(0, len(events) - BATCH + 1, BATCH)]}


def load(work: Coroutine[Any, Any, T]) -> T:
    """Run a load phase on uvloop when installed (as ``cxpulse collect`` does): the client
    shares the cores with the collector, so the less it spends per request the better."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(work)


async def closed_loop(url: str, key: str, payloads: list[bytes], connections: int,
                      seconds: float) -> Tally:
    """``connections`` senders, each posting the next body as soon as it has an answer."""
    tally, headers = Tally(), key_headers(key)
    stop = time.perf_counter() + seconds
    async with session(connections) as client:
        async def sender(index: int) -> None:
            while time.perf_counter() < stop:
                begun = time.perf_counter()
                answer = await post(client, url, payloads[index % len(payloads)], headers)
                tally.latencies.append(time.perf_counter() - begun)
                tally.requests += 1
                tally.accepted += answer.accepted
                tally.statuses[answer.status] += 1
                index += connections

        await asyncio.gather(*(sender(i) for i in range(connections)))
    return tally


async def open_loop(url: str, key: str, payloads: list[bytes], rate: float, seconds: float,
                    connections: int) -> tuple[Tally, float]:
    """Requests on a fixed schedule (``rate`` per second), whatever the answers do;
    latency from each request's scheduled time. Also returns the rate actually sent."""
    tally, headers = Tally(), key_headers(key)
    total = max(1, int(rate * seconds))
    async with session(connections) as client:
        async def one(index: int, due: float) -> None:
            answer = await post(client, url, payloads[index % len(payloads)], headers)
            tally.latencies.append(time.perf_counter() - due)
            tally.requests += 1
            tally.accepted += answer.accepted
            tally.statuses[answer.status] += 1

        tasks = []
        start = time.perf_counter() + 0.05
        index = 0
        while index < total:
            now = time.perf_counter()
            while index < total and start + index / rate <= now:
                tasks.append(asyncio.create_task(one(index, start + index / rate)))
                index += 1
            if index < total:
                await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
        sent_seconds = time.perf_counter() - start
        await asyncio.gather(*tasks)
    return tally, total / max(sent_seconds, 1e-9)


async def topic_messages(bootstrap: str, topics: tuple[str, ...], expected: int) -> int:
    """Messages in ``topics``, counted by reading them all: end offsets are not counts on
    every broker (Tansu's summed to 30,010 for 34,699 messages). Stops once ``expected``
    are read and no more come for a second, or after 5 s without any."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
    await consumer.start()
    count, quiet = 0, 0.0
    try:
        while quiet < (1.0 if count >= expected else 5.0):
            begun = time.monotonic()
            batches = await consumer.getmany(timeout_ms=500, max_records=50_000)
            got = sum(len(messages) for messages in batches.values())
            count += got
            quiet = 0.0 if got else quiet + time.monotonic() - begun
        return count
    finally:
        await consumer.stop()


class CollectorProcess:
    """One ``cxpulse collect`` on a free port, its log in the bench's scratch folder."""

    def __init__(self, bootstrap: str, warehouse_url: str, work: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = work / "collector.log"
        env = broker.client_env(bootstrap) | {
            "CX_CLICKHOUSE_URL": warehouse_url,
            "CX_DATA_DIR": str(work / "collector"),
            # the bench measures the process, not the tenant's rate limit
            "CX_COLLECT_RATE": "1e9", "CX_COLLECT_BURST": "1000000000"}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "collect", "--host", "127.0.0.1",
                 "--port", str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the collector exited with {self.process.returncode}: "
                                   f"{self.log_path.read_text()[-800:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(
                    f"{self.url}/readyz", timeout=2) as page:
                if page.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the collector was not ready within {timeout:.0f} s: "
                           f"{self.log_path.read_text()[-800:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def create_key(warehouse_url: str, work: Path) -> str:
    """A write key for the bench tenant, made as an operator makes one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CX_")} | {
        "CX_CLICKHOUSE_URL": warehouse_url, "CX_DATA_DIR": str(work / "keys")}
    made = subprocess.run([sys.executable, "-m", "streams.cli", "keys", "create", "--tenant",
                           TENANT, "--scope", "write", "--name", "bench collect"],
                          env=env, capture_output=True, timeout=120)
    if made.returncode != 0:
        raise RuntimeError(f"cxpulse keys create failed: {made.stderr.decode()[-500:]}")
    return made.stdout.decode().strip()


@contextlib.contextmanager
def collector_stack(settings: Settings, work: Path) -> Iterator[Stack]:
    """A fresh broker, the warehouse (keys), a write key, one collector."""
    with server_base(settings, work) as base:
        warehouse_url = warehouse_for(base, work, "collect")
        local = broker.start(work / "broker")
        try:
            admin.create_topics(local.bootstrap, settings.partitions, PLAINTEXT)
            key = create_key(warehouse_url, work)
            collector = CollectorProcess(local.bootstrap, warehouse_url, work)
            try:
                collector.wait_ready()
                say(f"bench collect: collector {collector.url} (pid {collector.process.pid}), "
                    f"Kafka {local.bootstrap} ({settings.partitions} partitions), "
                    f"keys in {warehouse_url.split('@')[-1]}")
                yield Stack(local.bootstrap, collector.url, collector.port, key, {
                    "collector": collector.process.pid, "broker": local.pid,
                    "client": os.getpid()})
            finally:
                collector.stop()
        finally:
            broker.stop(local, work / "broker")


def measure(stack: Stack, plan: Plan) -> dict[str, Any]:
    """Every phase against one running collector; the Kafka check last."""
    url, key, pids = stack.url + EVENTS_PATH, stack.key, stack.pids
    payloads = bodies(TENANT, time.time())
    results: dict[str, Any] = {"batch_size": BATCH, "connections": dict(CONNECTIONS),
                               "capacity": {}, "latency": {}}
    accepted = 0
    for kind in ("single", "batch"):
        connections = CONNECTIONS[kind]
        warm = load(closed_loop(url, key, payloads[kind], connections,
                                       plan.warmup_seconds))
        accepted += warm.accepted
        cpu = {name: cpu_s(pid) for name, pid in pids.items()}
        acks = ack_buckets(stack.port)
        begun = time.perf_counter()
        tally = load(closed_loop(url, key, payloads[kind], connections,
                                        plan.capacity_seconds))
        wall = time.perf_counter() - begun
        used = {name: cpu_s(pid) - cpu[name] for name, pid in pids.items()}
        accepted += tally.accepted
        done = tally.summary(wall) | ack_quantiles(acks, ack_buckets(stack.port)) | {
            "cores": {name: round(seconds / wall, 2) for name, seconds in used.items()},
            "events_per_collector_cpu_s": round(tally.accepted / max(used["collector"], 1e-9),
                                                1)}
        results["capacity"][kind] = done
        say(f"  capacity, {kind} ({connections} connections): {done['requests_per_s']:,.0f} "
            f"requests/s, {done['events_per_s']:,.0f} events/s, p50 {done['p50_ms']:.1f} ms "
            f"(Kafka ack p50 {done['kafka_ack_p50_ms']:.1f} ms); "
            f"cores used: {done['cores']} "
            f"({done['events_per_collector_cpu_s']:,.0f} events per collector CPU-second)"
            + (f", failed {done['failed']}" if done["failed"] else ""))
        for share in (50, 90):
            rate = max(1.0, done["requests_per_s"] * share / 100)
            acks = ack_buckets(stack.port)
            tally, sent = load(open_loop(url, key, payloads[kind], rate,
                                                plan.latency_seconds, 4 * connections))
            accepted += tally.accepted
            point = tally.summary(plan.latency_seconds) | ack_quantiles(
                acks, ack_buckets(stack.port)) | {
                "share": share, "offered_requests_per_s": round(rate, 1),
                "sent_requests_per_s": round(sent, 1)}
            results["latency"][f"{kind}_{share}pct"] = point
            say(f"  latency, {kind} at {share}% ({rate:,.0f} requests/s offered, {sent:,.0f} "
                f"sent): p50 {point['p50_ms']:.1f} ms, p99 {point['p99_ms']:.1f} ms (Kafka ack "
                f"p50 {point['kafka_ack_p50_ms']:.1f} ms, p99 {point['kafka_ack_p99_ms']:.1f} ms)"
                + (f", failed {point['failed']}" if point["failed"] else ""))
    in_kafka = asyncio.run(topic_messages(stack.bootstrap, SOURCE_TOPICS, accepted))
    dead = asyncio.run(topic_messages(stack.bootstrap, (DEADLETTER_TOPIC,), 0))
    results["kafka"] = {"accepted": accepted, "in_kafka": in_kafka, "deadletters": dead,
                        "all_in_kafka": in_kafka == accepted}
    say(f"  Kafka: {accepted:,} events accepted, {in_kafka:,} messages in the source topics, "
        f"{dead} dead letters: " + ("every accepted event is in Kafka" if in_kafka == accepted
                                    else "MISMATCH"))
    return results


def verdicts(results: dict[str, Any]) -> dict[str, bool]:
    capacity, latency = results["capacity"], results["latency"]
    return {
        "batch_events_per_s": capacity["batch"]["events_per_s"]
        >= TARGETS["batch_events_per_s"],
        "single_requests_per_s": capacity["single"]["requests_per_s"]
        >= TARGETS["single_requests_per_s"],
        "p99_ms_at_50pct": max(latency["single_50pct"]["p99_ms"],
                               latency["batch_50pct"]["p99_ms"]) < TARGETS["p99_ms_at_50pct"],
    }


def report(results: dict[str, Any]) -> str:
    """The table for people (the JSON follows it)."""
    capacity, latency, met = results["capacity"], results["latency"], results["met"]

    def mark(name: str) -> str:
        return "met" if met[name] else "MISSED"

    single, batch = capacity["single"], capacity["batch"]
    lines = [
        "one collector process, acks=all                      measured        target",
        f"single-event requests ({CONNECTIONS['single']} connections)"
        f"{'':<10}{single['requests_per_s']:>9,.0f} req/s  >= "
        f"{TARGETS['single_requests_per_s']:,} req/s  {mark('single_requests_per_s')}",
        f"100-event batches ({CONNECTIONS['batch']} connections)"
        f"{'':<15}{batch['events_per_s']:>9,.0f} ev/s   >= "
        f"{TARGETS['batch_events_per_s']:,} ev/s  {mark('batch_events_per_s')}",
        f"  per collector CPU-second: singles {single['events_per_collector_cpu_s']:,.0f} ev, "
        f"batches {batch['events_per_collector_cpu_s']:,.0f} ev",
        f"  cores used, singles: {single['cores']}; batches: {batch['cores']}",
        "latency (open loop, from the scheduled send)   offered     p50 ms   p99 ms"
        "   Kafka ack p50/p99 ms",
    ]
    for name, point in latency.items():
        lines.append(f"  {name:<44}{point['offered_requests_per_s']:>8,.0f}/s"
                     f"{point['p50_ms']:>9.1f}{point['p99_ms']:>9.1f}"
                     f"   {point['kafka_ack_p50_ms']:.1f}/{point['kafka_ack_p99_ms']:.1f}")
    lines.append(f"p99 at 50% load < {TARGETS['p99_ms_at_50pct']:.0f} ms: "
                 f"{mark('p99_ms_at_50pct')};  RudderStack publishes "
                 f"{REFERENCE['rudderstack_events_per_s_per_node']} events/s per node")
    kafka = results["kafka"]
    lines.append(f"Kafka: {kafka['accepted']:,} accepted, {kafka['in_kafka']:,} in the topics: "
                 + ("all there" if kafka["all_in_kafka"] else "MISMATCH"))
    return "\n".join(lines)


def run(settings: Settings, *, quick: bool, output: str | None) -> int:
    plan = QUICK if quick else FULL
    results: dict[str, Any] = {"quick": quick, "partitions": settings.partitions,
                               "cpus": os.cpu_count(), "load_average_1m": os.getloadavg()[0],
                               "targets": dict(TARGETS), **REFERENCE}
    with tempfile.TemporaryDirectory(prefix="cxpulse-bench-collect-") as scratch, \
            collector_stack(settings, Path(scratch)) as stack:
        results |= measure(stack, plan)
    results["met"] = verdicts(results)
    print(report(results))
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    if output:
        Path(output).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0 if results["kafka"]["all_in_kafka"] else 1
