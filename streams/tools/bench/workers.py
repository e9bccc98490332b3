"""``cxpulse bench`` stages that run real ``cxpulse worker`` processes.

End-to-end rate, latency and memory are read from the workers' own ``/metrics``,
as Prometheus would read them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from streams.kafka import admin, broker
from streams.kafka.produce import Report, aiter_of, record_of, send_stream
from streams.kafka.security import PLAINTEXT
from streams.ports import free_port
from streams.tools.generate import TrafficSpec, generate


def metric_lines(port: int) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
        return page.read().decode().splitlines()


def sample_sum(lines: list[str], name: str) -> float:
    """The sum of a metric's samples (every label set) in a /metrics page."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines
               if line.startswith((f"{name}{{", f"{name} ")))


def histogram_buckets(lines: list[str], name: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of a Prometheus histogram, in bound order."""
    return sorted((float(line.split('le="')[1].split('"')[0]), float(line.rsplit(" ", 1)[1]))
                  for line in lines if line.startswith(f"{name}_bucket{{"))


def bucket_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """Quantile from cumulative buckets, interpolated linearly within a bucket."""
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


def bucket_delta(before: list[tuple[float, float]],
                 after: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The cumulative buckets of what a histogram observed between two reads of it."""
    earlier = dict(before)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]


def histogram_quantile(lines: list[str], name: str, q: float) -> float:
    """Quantile of a histogram as a worker's /metrics shows it now."""
    return bucket_quantile(histogram_buckets(lines, name), q)


def _status_mib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib(pid: int) -> float:
    return _status_mib(pid, "VmHWM")


def rss_mib(pid: int) -> float:
    """Resident memory now (OSError once the process is gone)."""
    return _status_mib(pid, "VmRSS")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot (``/proc/stat``)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def empty_agent_rate(bootstrap: str, expected: int) -> float:
    """Messages/s of a Faust agent that does nothing but take batches: Faust's ceiling."""
    command = [sys.executable, "-m", "streams.tools.bench_faust", bootstrap, str(expected),
               str(free_port())]
    result = subprocess.run(command, capture_output=True, timeout=max(120, expected / 500))
    lines = [line for line in result.stdout.splitlines() if line.startswith(b"{")]
    if not lines:
        raise RuntimeError(f"empty Faust agent failed: {result.stderr.decode()[-500:]}")
    return float(orjson.loads(lines[-1])["events_per_s"])


class Workers:
    """``cxpulse worker`` processes on a bench broker, each with its own metrics port."""

    def __init__(self, bootstrap: str, url: str, work: Path, name: str, count: int,
                 extra: dict[str, str] | None = None) -> None:
        self.ports = [free_port() for _ in range(count)]
        self.logs = [work / f"{name}-{index}.log" for index in range(count)]
        self.envs = [broker.client_env(bootstrap) | {
            "CX_CLICKHOUSE_URL": url, "CX_DATA_DIR": str(work / f"{name}-{index}"),
            "CX_METRICS_PORT": str(port), "CX_APP_ID": f"bench-{name}",
            "CX_SESSION_TIMEOUT": "6"} | (extra or {}) for index, port in enumerate(self.ports)]
        self.at_first: tuple[float, tuple[int, int]] = (0.0, machine_ticks())
        self.processes = [self._spawn(index) for index in range(count)]

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        """Worker ``index``, its output appended to its log (a restart keeps the earlier)."""
        with self.logs[index].open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warn"],
                env=self.envs[index], stdout=log, stderr=subprocess.STDOUT)

    def kill(self, index: int) -> None:
        """SIGKILL worker ``index``: no shutdown, no commit, as a crash or the OOM killer."""
        self.processes[index].kill()
        self.processes[index].wait()

    def restart(self, index: int) -> None:
        """A new process for worker ``index``, same port, data directory and group."""
        self.processes[index] = self._spawn(index)

    def counter(self, name: str) -> float:
        """A metric summed over its samples and the workers (0 from one not serving yet)."""
        total = 0.0
        for port, process in zip(self.ports, self.processes, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"a bench worker exited with {process.returncode}")
            with contextlib.suppress(OSError):  # not serving yet
                total += sample_sum(metric_lines(port), name)
        return total

    def gauge(self, name: str) -> float:
        """The highest value of a gauge among the workers."""
        return max(sample_sum(metric_lines(port), name) for port in self.ports)

    def written(self) -> float:
        return self.counter("cx_sink_rows_total")

    def wait_for(self, expected: int) -> float:
        """Seconds from the first row written to ``expected`` rows written."""
        first = None
        deadline = time.monotonic() + max(180, expected / 200)
        while time.monotonic() < deadline:
            written = self.written()
            if written and first is None:
                first = time.perf_counter()
                self.at_first = (self.cpu_s(), machine_ticks())
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
            if self.counter("cx_assigned_partitions") >= partitions:
                return
            time.sleep(0.2)
        raise RuntimeError(f"bench workers never owned all {partitions} partitions")

    def cpu_s(self) -> float:
        return sum(cpu_s(process.pid) for process in self.processes)

    def cpu_since_first(self, events: int) -> dict[str, float]:
        """The workers' CPU per event since the first row was written, and the share of
        the whole machine's cores busy meanwhile (every process: the noise of a shared
        machine shows here)."""
        (cpu, (busy, total)), (busy_now, total_now) = self.at_first, machine_ticks()
        return {"worker_cpu_us_per_event": (self.cpu_s() - cpu) / events * 1e6,
                "machine_busy_share": (busy_now - busy) / max(total_now - total, 1)}

    def peak_rss_mib(self) -> float:
        return max(peak_rss_mib(process.pid) for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a loaded machine: the run's numbers stand
                process.kill()
                process.wait()


def warehouse_for(base: str | None, work: Path, name: str) -> str:
    """A fresh database per phase, so every phase writes every row (None: embedded chdb)."""
    if base:
        return f"{base}/bench_{name}"
    return f"chdb://{work / name / 'clickhouse'}"


def throughput(bootstrap: str, base: str | None, work: Path, count: int,
               expected: int) -> dict[str, float]:
    """Events/s of ``count`` workers draining ``expected`` events already in the topics."""
    name = f"throughput{count}{'server' if base else 'chdb'}"
    workers = Workers(bootstrap, warehouse_for(base, work, name), work, name, count)
    try:
        seconds = workers.wait_for(expected)
        return {"events_per_s": expected / seconds, "seconds": seconds,
                "peak_rss_mib": workers.peak_rss_mib(), **workers.cpu_since_first(expected)}
    finally:
        workers.stop()


def latency(base: str | None, partitions: int, work: Path, rate: float, seconds: float,
            change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
            ) -> dict[str, float]:
    """Event -> score (and -> comment insight) latency of one worker fed at a steady rate
    below its capacity, with the generated events ``change``d first if given."""
    name = f"latency{int(rate)}"
    local = broker.start(work / f"{name}-broker")
    try:
        admin.create_topics(local.bootstrap, partitions, PLAINTEXT)
        workers = Workers(local.bootstrap, warehouse_for(base, work, name), work, name, 1)
        try:
            workers.wait_assigned(3 * partitions)
            now = time.time()
            spec = TrafficSpec(seed=2, start=now - seconds, duration=seconds, rate=rate)
            events = list(generate(spec))
            records = [record_of(event) for event in (change or list)(events)]

            async def paced() -> Any:
                started = time.monotonic()
                for index, record in enumerate(records):
                    delay = index / rate - (time.monotonic() - started)
                    if delay > 0:
                        await asyncio.sleep(delay)
                    yield record

            sent = asyncio.run(send_stream(local.bootstrap, PLAINTEXT, paced(), Report()))
            workers.wait_for(len(records))
            lines = metric_lines(workers.ports[0])
            return {"rate": rate, "events": len(records),
                    "sent_per_s": sum(sent.sent.values()) / sent.seconds,
                    "p50_s": histogram_quantile(lines, "cx_score_latency_seconds", 0.5),
                    "p99_s": histogram_quantile(lines, "cx_score_latency_seconds", 0.99),
                    "insight_p50_s": histogram_quantile(lines, "cx_enrich_latency_seconds", 0.5),
                    "insight_p99_s": histogram_quantile(lines, "cx_enrich_latency_seconds",
                                                        0.99)}
        finally:
            workers.stop()
    finally:
        broker.stop(local, work / f"{name}-broker")


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


def memory(base: str | None, partitions: int, work: Path, scopes: int) -> dict[str, float]:
    """Peak RSS of one worker that scored ``scopes`` scopes and published snapshots of them."""
    local = broker.start(work / f"memory-broker-{scopes}")
    try:
        admin.create_topics(local.bootstrap, partitions, PLAINTEXT)
        records = scope_events(scopes, time.time())
        asyncio.run(send_stream(local.bootstrap, PLAINTEXT, aiter_of(records), Report()))
        name = f"memory{scopes}"
        workers = Workers(local.bootstrap, warehouse_for(base, work, name), work, name, 1,
                          {"CX_SNAPSHOT_SECONDS": "5"})
        try:
            workers.wait_for(len(records))
            time.sleep(6)  # let the leader compute and publish a few snapshots of every scope
            return {"scopes": scopes, "peak_rss_mib": workers.peak_rss_mib()}
        finally:
            workers.stop()
    finally:
        broker.stop(local, work / f"memory-broker-{scopes}")
