"""``cxpulse bench soak``: steady load for a long run, with a fault every few minutes.

On loopback and bounded: a private ClickHouse server, a local broker behind a TCP
proxy, two ``cxpulse worker`` processes, and the generator offering half of what the
two drain (measured first, unless a rate is given). Every ``fault_every`` seconds, in
turn: the broker is cut off (at the proxy: Tansu keeps its topics in memory only, so it
is never restarted), the ClickHouse server is stopped and started again, a worker is
SIGKILLed and started again; each lasts ``outage`` seconds. The broker advertises the
proxy, so its partition cuts the generator too: the generator's sends wait it out.

At the end every produced event must have landed once, ``cxpulse verify`` must find no
difference, and no worker may have exited on its own. The report adds the RSS growth
of every process, p99 event -> score in the window before and after each fault, and
the log lines each worker wrote from each fault to the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streams.config import Settings
from streams.console import say
from streams.core.rows import DEADLETTER_TABLE, TABLE_OF_TYPE
from streams.kafka import admin, broker
from streams.kafka.produce import Record, Report, aiter_of, record_of, send_stream
from streams.kafka.security import PLAINTEXT
from streams.ports import free_port
from streams.queries.landed import landed as landed_so_far
from streams.queries.verify import differences
from streams.queries.windows import STAT_SUMS, stats_of_sums
from streams.tools.bench import stages, workers
from streams.tools.generate import TrafficSpec, generate
from streams.tools.generate.pace import paced
from streams.tools.proxy import TcpProxy
from streams.warehouse import WarehouseError, connect
from streams.warehouse.local import ClickHouseServer

FAULTS = ("broker partition", "ClickHouse restart", "worker SIGKILL")
WORKERS = 2
SHARE = 0.5
"""Of the measured capacity: the offered load."""
CAPACITY_EVENTS = 30_000
PROGRESS_SECONDS = 60.0
LATENCY = "cx_score_latency_seconds"
TARGETS = {"events_lost": 0, "events_duplicated": 0, "verify_differences": 0,
           "unexpected_exits": 0, "rss_growth_pct_per_hour": 10.0,
           "log_lines_per_worker_per_fault": 50}
"""Issue 20's bar. Only the first four decide the exit status: the others are measured."""
NOISY_LINES = 20
"""A fault window with this many lines of a worker gets its most written lines reported."""
STALL_SECONDS = 120.0
"""After the load, an event not landed once no row arrived for this long is lost."""
VERIFY_SECONDS = 60.0
"""After the last event landed, how long verify may still see minutes being written."""

Buckets = list[tuple[float, float]]


@dataclass
class Fault:
    """One fault as it happened, seconds counted from the start of the load."""

    number: int
    kind: str
    at_s: float
    target: str = ""
    down_s: float = 0.0
    p99_before_s: float | None = None
    p99_after_s: float | None = None
    log_lines: dict[str, int] = field(default_factory=dict)
    log_shapes: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    """Per worker, its most written lines of the window (digits as #), with their counts."""


@dataclass
class Plan:
    duration: float
    fault_every: float
    outage: float

    def __post_init__(self) -> None:
        if self.outage <= 0 or self.fault_every < self.outage + 10:
            raise ValueError(f"--fault-every ({self.fault_every:g}s) must leave at least 10 s "
                             f"between faults of --outage {self.outage:g}s")
        if self.duration < self.fault_every + self.outage:
            raise ValueError(f"--duration ({self.duration:g}s) must hold at least one fault: "
                             f"--fault-every {self.fault_every:g}s plus --outage {self.outage:g}s")

    @property
    def window(self) -> float:
        """Seconds of the p99 windows before and after a fault: half the quiet between."""
        return min(60.0, (self.fault_every - self.outage) / 2)

    @property
    def tick(self) -> float:
        """Seconds between reads of /metrics and RSS: gently, as Prometheus would."""
        return min(5.0, self.window / 2)

    def schedule(self) -> list[tuple[float, str]]:
        """(start, kind) of every fault that ends before the load does."""
        times = [k * self.fault_every for k in range(1, int(self.duration // self.fault_every)
                                                     + 1)]
        return [(at, FAULTS[n % len(FAULTS)]) for n, at in
                enumerate(t for t in times if t + self.outage < self.duration)]


def window_p99(samples: list[tuple[float, dict[int, Buckets]]], start: float,
               end: float) -> float | None:
    """p99 of what every worker process observed between ``start`` and ``end`` (None: no
    event). A process first read after ``start`` (a restarted worker) counts from zero."""
    first: dict[int, Buckets] = {}
    last: dict[int, Buckets] = {}
    for at, by_process in samples:
        if at > end:
            break
        for pid, buckets in by_process.items():
            if at <= start:
                first[pid] = buckets
            last[pid] = buckets
    total: Counter[float] = Counter()
    for pid, buckets in last.items():
        for bound, count in workers.bucket_delta(first.get(pid, []), buckets):
            total[bound] += count
    merged = sorted(total.items())
    if not merged or merged[-1][1] <= 0:
        return None
    return round(workers.bucket_quantile(merged, 0.99), 3)


def rss_growth(series: list[tuple[float, float]], warmup: float) -> dict[str, Any]:
    """First, last and highest RSS (MiB) of one process, and its growth in % of its size
    per hour: the least-squares slope after its first ``warmup`` seconds (start-up)."""
    settled = [(at, mib) for at, mib in series if at >= series[0][0] + warmup]
    growth = None
    if len(settled) >= 3 and settled[-1][0] - settled[0][0] >= 30:
        slope = statistics.linear_regression([at for at, _ in settled],
                                             [mib for _, mib in settled]).slope
        growth = round(100 * slope * 3600 / settled[0][1], 1)
    step = max(1, len(series) // 60)  # about a sample a minute in a 1 h run
    return {"samples": len(series), "first_mib": round(series[0][1], 1),
            "last_mib": round(series[-1][1], 1),
            "max_mib": round(max(mib for _, mib in series), 1),
            "growth_pct_per_hour": growth,
            "series": [(round(at), round(mib)) for at, mib in series[::step]]}


def line_count(path: Path) -> int:
    with path.open("rb") as log:
        return sum(1 for _ in log)


_STAMP = re.compile(rb"^\[[^]]*\] \[\d+\] ")
_DIGITS = re.compile(rb"\d+")


def line_shapes(path: Path, start: int, end: int, top: int = 3) -> list[tuple[int, str]]:
    """The ``top`` most written lines ``start`` to ``end`` of a log, the time and pid cut
    and digits folded, with their counts: what an operator would have read."""
    with path.open("rb") as log:
        lines = [line for n, line in enumerate(log) if start <= n < end]
    shapes = Counter(_DIGITS.sub(b"#", _STAMP.sub(b"", line.rstrip()))[:160] for line in lines)
    return [(count, shape.decode(errors="replace")) for shape, count in shapes.most_common(top)]


class Load:
    """The generator's events sent at their event time on a thread, counted per table."""

    def __init__(self, bootstrap: str, rate: float, seconds: float, retry_seconds: float) -> None:
        self.spec = TrafficSpec(seed=5, start=time.time(), duration=seconds, rate=rate)
        self.produced: Counter[str] = Counter()
        self.report = Report()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="soak-load", daemon=True,
                                       args=(bootstrap, int(retry_seconds * 1000)))
        self.thread.start()

    async def _records(self) -> AsyncIterator[Record]:
        async for event in paced(generate(self.spec), 1.0):
            self.produced[TABLE_OF_TYPE[event["type"]]] += 1
            yield record_of(event)

    def _run(self, bootstrap: str, retry_ms: int) -> None:
        try:
            asyncio.run(send_stream(bootstrap, PLAINTEXT, self._records(), self.report,
                                    progress_every=float("inf"), request_timeout_ms=retry_ms))
        except BaseException as error:  # reported by the soak, which stops
            self.error = error

    @property
    def sent(self) -> int:
        return sum(self.report.sent.values())


def capacity(base: str, partitions: int, work: Path) -> float:
    """Events/s that the two workers drain from topics already full: the soak offers half.

    A short drain on a quiet machine: the comment model's work, which follows the rows,
    and other work on the machine are not in it, so a soak may find less room."""
    local = broker.start(work / "capacity-broker")
    try:
        admin.create_topics(local.bootstrap, partitions, PLAINTEXT)
        records = stages.make_records(CAPACITY_EVENTS, time.time())
        asyncio.run(send_stream(local.bootstrap, PLAINTEXT, aiter_of(records), Report(),
                                progress_every=float("inf")))
        return workers.throughput(local.bootstrap, base, work, WORKERS,
                                  len(records))["events_per_s"]
    finally:
        broker.stop(local, work / "capacity-broker")


class Soak:
    """The running soak: its services, the faults so far and what was sampled."""

    def __init__(self, settings: Settings, plan: Plan, server: ClickHouseServer,
                 proxy: TcpProxy, fleet: workers.Workers, bootstrap: str, broker_pid: int,
                 url: str) -> None:
        self.settings, self.plan, self.server, self.proxy = settings, plan, server, proxy
        self.fleet, self.bootstrap, self.broker_pid = fleet, bootstrap, broker_pid
        self.warehouse = connect(url)
        self.faults: list[Fault] = []
        self.latency: list[tuple[float, dict[int, Buckets]]] = []
        self.rss: dict[tuple[str, int], list[tuple[float, float]]] = {}
        self.exits: list[str] = []
        self.killed: int | None = None
        self.window_lines: list[int] = []
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def run(self, rate: float) -> dict[str, Any]:
        load = Load(self.bootstrap, rate, self.plan.duration, self.plan.outage + 60)
        self.started = time.monotonic()
        schedule, active, progress = self.plan.schedule(), None, PROGRESS_SECONDS
        while load.thread.is_alive():
            now = self.elapsed()
            if active and now >= active.at_s + self.plan.outage:
                self.end(active)
                active = None
            if not active and schedule and now >= schedule[0][0]:
                active = self.begin(schedule.pop(0)[1])
            self.sample()
            if now >= progress:
                self.progress(load)
                progress += PROGRESS_SECONDS
            time.sleep(self.plan.tick)
        if active:
            self.end(active)
        if load.error:
            raise RuntimeError(f"the soak's load generator failed: {load.error!r}")
        sent_s = self.elapsed()
        say(f"soak: load done ({load.sent:,} events in {sent_s:.0f}s); waiting for every "
            f"event to land")
        return self.settle(load, rate, sent_s)

    # --- faults ---------------------------------------------------------------------------

    def begin(self, kind: str) -> Fault:
        self.sample()
        fault = Fault(len(self.faults) + 1, kind, round(self.elapsed(), 1))
        lines = [line_count(log) for log in self.fleet.logs]
        self.close_window(lines)
        if kind == "broker partition":
            self.proxy.cut()
        elif kind == "ClickHouse restart":
            self.server.stop()
        else:
            self.killed = (len(self.faults) // len(FAULTS)) % WORKERS
            fault.target = f"worker-{self.killed}"
            self.fleet.kill(self.killed)
        self.faults.append(fault)
        self.window_lines = lines
        say(f"soak {clock(fault.at_s)}: fault {fault.number}, {kind} {fault.target}".rstrip())
        return fault

    def end(self, fault: Fault) -> None:
        if fault.kind == "broker partition":
            self.proxy.restore()
        elif fault.kind == "ClickHouse restart":
            self.server.start()
        elif self.killed is not None:
            self.fleet.restart(self.killed)
            self.killed = None
        fault.down_s = round(self.elapsed() - fault.at_s, 1)
        self.sample()
        say(f"soak {clock(self.elapsed())}: fault {fault.number} over after {fault.down_s:.0f}s")

    def close_window(self, lines: list[int]) -> None:
        """The last fault's log lines per worker: from its start to now (``lines``)."""
        if self.faults:
            pairs = list(enumerate(zip(lines, self.window_lines, strict=True)))
            self.faults[-1].log_lines = {f"worker-{index}": now - then
                                         for index, (now, then) in pairs}
            self.faults[-1].log_shapes = {
                f"worker-{index}": line_shapes(self.fleet.logs[index], then, now)
                for index, (now, then) in pairs if now > then}

    # --- sampling -------------------------------------------------------------------------

    def sample(self) -> None:
        """Every worker's latency histogram and every process's RSS, now."""
        now, by_process = self.elapsed(), {}
        for index, (port, process) in enumerate(zip(self.fleet.ports, self.fleet.processes,
                                                    strict=True)):
            if process.poll() is not None:
                if index != self.killed:
                    self.exits.append(f"worker-{index} (pid {process.pid}) exited with "
                                      f"{process.returncode} at {clock(now)}")
                    say(f"soak: {self.exits[-1]}; starting it again")
                    self.fleet.restart(index)
                continue
            with contextlib.suppress(OSError):  # not serving yet
                by_process[process.pid] = workers.histogram_buckets(
                    workers.metric_lines(port), LATENCY)
            self.record_rss(f"worker-{index}", process.pid, now)
        self.latency.append((now, by_process))
        self.record_rss("broker", self.broker_pid, now)
        if self.server.process and self.server.process.poll() is None:
            self.record_rss("clickhouse-server", self.server.process.pid, now)

    def record_rss(self, name: str, pid: int, now: float) -> None:
        try:
            mib = workers.rss_mib(pid)
        except OSError:  # it just exited
            return
        self.rss.setdefault((name, pid), []).append((now, mib))

    def progress(self, load: Load) -> None:
        try:
            landed = f"{self.landed_rows():,}"
        except WarehouseError:
            landed = "? (ClickHouse down)"
        sizes = "/".join(f"{self.rss[key][-1][1]:.0f}" if key in self.rss else "-" for key in
                         ((f"worker-{index}", process.pid)
                          for index, process in enumerate(self.fleet.processes)))
        say(f"soak {clock(self.elapsed())}/{clock(self.plan.duration)}: sent {load.sent:,} "
            f"({load.sent / max(self.elapsed(), 1):,.0f}/s), landed {landed}, workers RSS "
            f"{sizes} MiB, {len(self.faults)} fault(s), {len(self.exits)} unexpected exit(s)")

    # --- the end ------------------------------------------------------------------------

    def landed_rows(self) -> int:
        """Raw rows as stored, duplicates not yet merged included: to see progress."""
        counts = landed_so_far(self.warehouse).counts
        return sum(counts[table] for table in TABLE_OF_TYPE.values())

    def landed(self) -> dict[str, int]:
        """Events per raw table, each once (FINAL: the engine's deduplication applied)."""
        db = self.warehouse.database
        return {table: int(self.warehouse.query(
            f"SELECT count() AS n FROM {db}.{table} FINAL")[0]["n"])
            for table in TABLE_OF_TYPE.values()}

    def settle(self, load: Load, rate: float, sent_s: float) -> dict[str, Any]:
        """Wait until every produced event landed (or none came for ``STALL_SECONDS``), then
        until verify agrees (for at most ``VERIFY_SECONDS``)."""
        produced = {table: load.produced[table] for table in TABLE_OF_TYPE.values()}
        total, last, moved = sum(produced.values()), -1, time.monotonic()
        progress = self.elapsed() + PROGRESS_SECONDS
        while time.monotonic() - moved < STALL_SECONDS:
            self.sample()
            with contextlib.suppress(WarehouseError):  # the server may still be starting
                rows = self.landed_rows()
                if rows != last:
                    last, moved = rows, time.monotonic()
                if rows >= total and self.landed() == produced:
                    break
            if self.elapsed() >= progress:
                say(f"soak {clock(self.elapsed())}: draining, {last:,} of {total:,} rows landed")
                progress += PROGRESS_SECONDS
            time.sleep(2)
        landed = self.landed()
        drained_s = round(self.elapsed() - sent_s, 1)
        say(f"soak: {sum(landed.values()):,} of {load.sent:,} events landed "
            f"{drained_s:.0f}s after the load; verifying")
        found = differences(self.warehouse, self.settings.followup_deadline_ms)
        deadline = time.monotonic() + VERIFY_SECONDS
        while found and time.monotonic() < deadline:  # the last minutes still being written
            time.sleep(5)
            found = differences(self.warehouse, self.settings.followup_deadline_ms)
        self.close_window([line_count(log) for log in self.fleet.logs])
        for fault in self.faults:
            fault.p99_before_s = window_p99(self.latency, fault.at_s - self.plan.window,
                                            fault.at_s)
            after = fault.at_s + fault.down_s
            fault.p99_after_s = window_p99(self.latency, after, after + self.plan.window)
        return self.results(load, rate, sent_s, produced, found) | {
            "drained_s": drained_s, "verified_s": round(self.elapsed() - sent_s - drained_s, 1)}

    def scored(self) -> dict[str, int]:
        stats = stats_of_sums(self.warehouse.query(
            f"SELECT {STAT_SUMS} FROM {self.warehouse.database}.score_minutes FINAL")[0])
        return {"interactions": stats.interactions, "feedback": stats.feedback}

    def results(self, load: Load, rate: float, sent_s: float, produced: dict[str, int],
                found: list[dict[str, Any]]) -> dict[str, Any]:
        landed, scored = self.landed(), self.scored()  # read together: rows may still come
        deadletters = landed_so_far(self.warehouse).counts[DEADLETTER_TABLE]
        warmup = min(600.0, self.plan.duration / 4)  # caches and the model fill up first
        rss = [{"process": name, "pid": pid, **rss_growth(series, warmup)}
               for (name, pid), series in self.rss.items()]
        return {
            "duration_s": self.plan.duration, "fault_every_s": self.plan.fault_every,
            "outage_s": self.plan.outage, "window_s": self.plan.window, "workers": WORKERS,
            "rate_per_s": rate, "sent": load.sent, "sent_per_s": round(load.sent / sent_s, 1),
            "events": {"produced": produced, "landed": landed, "scored": scored,
                       "lost": sum(max(0, produced[t] - landed.get(t, 0)) for t in produced),
                       "duplicated": max(0, scored["interactions"] - landed.get(
                           "interactions", 0)) + max(0, scored["feedback"] - landed.get(
                               "feedback", 0)),
                       "deadletters": deadletters},
            "verify": {"differences": len(found), "first": found[:5]},
            "faults": [asdict(fault) for fault in self.faults],
            "rss": rss, "unexpected_exits": self.exits,
        }


def clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def verdicts(results: dict[str, Any]) -> dict[str, bool]:
    events = results["events"]
    growth = [row["growth_pct_per_hour"] for row in results["rss"]
              if row["process"].startswith("worker-") and row["growth_pct_per_hour"] is not None]
    lines = [n for fault in results["faults"] for n in fault["log_lines"].values()]
    return {"events_lost": events["lost"] == 0, "events_duplicated": events["duplicated"] == 0,
            "verify_differences": results["verify"]["differences"] == 0,
            "unexpected_exits": not results["unexpected_exits"],
            "rss_growth_pct_per_hour": all(g < TARGETS["rss_growth_pct_per_hour"]
                                           for g in growth),
            "log_lines_per_worker_per_fault": all(
                n < TARGETS["log_lines_per_worker_per_fault"] for n in lines)}


def run(settings: Settings, *, duration: float, fault_every: float, outage: float,
        rate: float | None, output: str | None) -> int:
    plan = Plan(duration, fault_every, outage)
    # The generator's producer rides out the broker partitions: its retries are not news.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="cxpulse-soak-") as scratch:
        work = Path(scratch)
        server = ClickHouseServer(work / "clickhouse-server")
        server.start()
        try:
            base = server.url("x").rsplit("/", 1)[0]
            measured = None
            if rate is None:
                measured = capacity(base, settings.partitions, work)
                rate = round(measured * SHARE, -1)
                say(f"soak: {WORKERS} workers drain {measured:,.0f} events/s; offering "
                    f"{rate:,.0f}/s")
            results = {"capacity_per_s": measured,
                       **soak(settings, plan, server, base, work, rate)}
        finally:
            server.stop()
        results["targets"] = TARGETS
        results["met"] = verdicts(results)
        print(report(results), flush=True)
        print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode(), flush=True)
        if output:
            Path(output).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
            for log in sorted(work.glob("soak-*.log")):  # the workers' whole logs, kept
                shutil.copyfile(log, f"{output}.{log.name}")
        say(f"soak: removing {work} (the server's many small files take a while)")
    decisive = ("events_lost", "events_duplicated", "verify_differences", "unexpected_exits")
    return 0 if all(results["met"][key] for key in decisive) else 1


def soak(settings: Settings, plan: Plan, server: ClickHouseServer, base: str, work: Path,
         rate: float) -> dict[str, Any]:
    """The broker behind its proxy and the two workers, for the whole run."""
    proxy_port, broker_port = free_port(), free_port()
    local = broker.start(work / "broker", broker_port, advertise=f"127.0.0.1:{proxy_port}")
    proxy = TcpProxy(broker_port, proxy_port)
    try:
        admin.create_topics(local.bootstrap, settings.partitions, PLAINTEXT)
        url = workers.warehouse_for(base, work, "soak")
        fleet = workers.Workers(local.bootstrap, url, work, "soak", WORKERS)
        try:
            fleet.wait_assigned(3 * settings.partitions)
            say(f"soak: {clock(plan.duration)} at {rate:,.0f} events/s, a fault every "
                f"{clock(plan.fault_every)} lasting {plan.outage:.0f}s, logs in {work}")
            return Soak(settings, plan, server, proxy, fleet, local.bootstrap, local.pid,
                        url).run(rate)
        finally:
            fleet.stop()
    finally:
        proxy.stop()
        broker.stop(local, work / "broker")


def report(results: dict[str, Any]) -> str:
    """The tables for people (the JSON follows them)."""
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}s"

    events, verified = results["events"], results["verify"]
    capacity_note = (f" (50% of {results['capacity_per_s']:,.0f}/s measured)"
                     if results.get("capacity_per_s") else "")
    lines = [
        f"soak {clock(results['duration_s'])}, {results['workers']} workers, "
        f"{results['rate_per_s']:,.0f} events/s offered{capacity_note}, "
        f"{results['sent_per_s']:,.0f}/s sent; a fault every {clock(results['fault_every_s'])}"
        f", {results['outage_s']:.0f}s each; p99 windows {results['window_s']:.0f}s",
        f"events: produced {sum(events['produced'].values()):,}, landed "
        f"{sum(events['landed'].values()):,}, lost {events['lost']}, duplicated "
        f"{events['duplicated']}, dead-lettered {events['deadletters']}; verify: "
        f"{verified['differences']} differences; unexpected worker exits: "
        f"{len(results['unexpected_exits'])}",
        "",
        "fault  at     kind                     down   p99 before  p99 after   "
        "log lines per worker",
    ]
    for fault in results["faults"]:
        logs = ", ".join(f"{name} {n}" for name, n in fault["log_lines"].items())
        kind = f"{fault['kind']} {fault['target']}".strip()
        lines.append(f"{fault['number']:<6} {clock(fault['at_s']):<6} {kind:<24} "
                     f"{fault['down_s']:>4.0f}s  {seconds(fault['p99_before_s']):<11} "
                     f"{seconds(fault['p99_after_s']):<11} {logs}")
    for fault in results["faults"]:  # what the talkative windows said
        for name, shapes in fault["log_shapes"].items():
            if fault["log_lines"][name] >= NOISY_LINES:
                lines += [f"  fault {fault['number']} {name}: {count}x {shape}"
                          for count, shape in shapes]
    lines += ["", "process            pid      first MiB  last MiB  max MiB  growth %/h"]
    for row in results["rss"]:
        growth = row["growth_pct_per_hour"]
        lines.append(f"{row['process']:<18} {row['pid']:<8} {row['first_mib']:>9.0f}  "
                     f"{row['last_mib']:>8.0f}  {row['max_mib']:>7.0f}  "
                     f"{'-' if growth is None else f'{growth:+.1f}':>10}")
    met = results.get("met", {})
    lines.append("")
    lines.append("targets: " + ", ".join(f"{key} {'met' if ok else 'NOT met'}"
                                         for key, ok in met.items()))
    return "\n".join(lines)
