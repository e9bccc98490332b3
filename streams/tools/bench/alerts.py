"""``cxpulse bench alerts``: how soon alerts fire, how often on nothing, what a pass costs.

Three measurements, each on a fresh database of one ClickHouse server, with the
detector configured as the worker would be (``Settings.detector()``):

- **Detection delay**: each alert scenario of ``cxpulse generate`` at a low
  volume (a few dozen interactions an hour on the affected channel; the whole
  tenant for the follow-up backlog) and ten times that, loaded through the
  worker's own core and backtested at a 5-minute step from an hour before the
  onset. An alert counts as a detection when it is in the incident's scope
  (or a rollup of it) on one of the scenario's metrics or those that move with
  it; every other alert is a false alarm.
- **False alarms per tenant-week**: steady traffic for three tenants, backtested
  over every step of days 2..N (day 1 has no baseline yet).
- **Cost of one pass at 10k scopes**: synthetic ``score_minutes`` for 10,000
  leaf scopes over the baseline and the longest window, then the live read
  (``live_comparisons``), ``judge`` and ``step`` timed apart, and peak memory.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import orjson

from streams.config import Settings
from streams.console import say
from streams.core.alerts import FIRING, AlertState, Change, step
from streams.core.backtest import check_step, reach, replay
from streams.core.drops import (
    DEFAULT_ONSETS_MS,
    SILENT,
    SLA_FLOOR,
    AlertKey,
    DetectorConfig,
    findings,
    judge,
)
from streams.core.series import Series
from streams.core.significance import needed_observations
from streams.core.stats import ALL, COMMENT_THEMES, STAT_COLUMNS, THEME_PREFIX
from streams.core.units import format_window
from streams.queries.alerting import bucket_series, live_comparisons
from streams.queries.scoring import MINUTE_COLUMNS
from streams.tools.bench import server_base
from streams.tools.generate import (
    Incident,
    TrafficSpec,
    generate,
    incident_of,
    interactions_per_hour,
)
from streams.tools.generate.tables import CHANNELS
from streams.tools.load import load
from streams.warehouse import Warehouse, connect
from streams.warehouse.migrate import migrate

DAY: Final = 86_400
STEP_MS: Final = 300_000
SCENARIOS: Final = ("nps-drop", "failure-spike", "degraded", "silent-channel",
                    "followup-backlog")
TENANTS: Final = ("acme-shop", "nordwind")
STEADY_TENANTS: Final = ("acme-shop", "nordwind", "sakura")
RELATED: Final[dict[str, tuple[str, ...]]] = {
    "nps": ("csat", "ces", "unhappy_share"),
    "failure_rate": ("nps", "csat", "ces", "unhappy_share"),  # failed customers answer worse
    "silent_channel": ("response_rate",), "followup_sla": (SLA_FLOOR,)}
"""Metrics that move with a scenario's own (``Incident.metrics``); ``health`` moves with all."""


@dataclass(frozen=True, slots=True)
class Plan:
    days: int
    """Event time of every scenario and of the steady run."""
    volumes: dict[str, float]
    """Name -> interactions per hour on the affected scope (steady: first tenant's web)."""
    scenarios: tuple[str, ...] = SCENARIOS
    steady_tenants: tuple[str, ...] = STEADY_TENANTS
    cost_shape: tuple[int, int, int] = (50, 8, 25)
    """Tenants x channels x touchpoints of the pass-cost stage: its leaf scopes."""
    cost_hours: int = 7 * 24 + 6
    """Hours of synthetic minutes: the default baseline and the longest window."""
    incident_hours: float = 3.0
    """How long each scenario's degradation lasts before the run ends: the horizon a slow
    detection has (``TrafficSpec.degraded_span``)."""


FULL: Final = Plan(days=8, volumes={"low": 30.0, "high": 300.0}, incident_hours=6.0)
QUICK: Final = Plan(days=3, volumes={"low": 30.0}, cost_shape=(10, 4, 25))


# --- where a scenario shows, and which alerts detect it ---------------------------------------

def _probe(scenario: str, tenants: tuple[str, ...]) -> TrafficSpec:
    return TrafficSpec(start=0, duration=DAY, rate=1.0, scenario=scenario, tenants=tenants)


def rate_for(scenario: str, tenants: tuple[str, ...], per_hour: float) -> float:
    """The generator rate that gives ``per_hour`` interactions/h on the scenario's scope.

    The affected channel; the whole tenant when the scenario has no channel; the
    first tenant's web channel for steady traffic.
    """
    probe = _probe(scenario, tenants)
    incident = incident_of(probe)
    tenant, channel = (incident.tenant, incident.channel) if incident else (tenants[0], "web")
    channels = (channel,) if channel else CHANNELS.items
    return per_hour / sum(interactions_per_hour(probe, tenant, c) for c in channels)


def in_scope(incident: Incident, key: AlertKey) -> bool:
    """An alert on the incident's scope or a rollup of it, on a metric the scenario moves."""
    tenant, channel, touchpoint, metric = key
    metrics = {"health", *incident.metrics,
               *(m for own in incident.metrics for m in RELATED.get(own, ()))}
    return (tenant == incident.tenant and metric in metrics
            and (incident.channel is None or channel in (incident.channel, ALL))
            and (incident.touchpoint is None or touchpoint in (incident.touchpoint, ALL)))


def openings(changes: list[Change]) -> list[Change]:
    """Firings that open an alert: escalations of an open one are not new alerts."""
    opened: set[AlertKey] = set()
    out = []
    for change in changes:
        if change.state != FIRING:
            opened.discard(change.key)
        elif change.key not in opened:
            opened.add(change.key)
            out.append(change)
    return out


def _alert(change: Change) -> dict[str, Any]:
    return {"alert": "/".join(change.key), "at": change.at, "severity": change.severity,
            "reason": change.reason}


def detection(incident: Incident, changes: list[Change]) -> dict[str, Any]:
    """What fired in scope (with each alert's delay after the onset) and what fired outside."""
    onset = int(incident.start)
    hits, false = [], []
    for change in openings(changes):
        if change.at >= onset and in_scope(incident, change.key):
            hits.append(_alert(change) | {"delay_s": change.at - onset})
        else:
            false.append(_alert(change))
    first = hits[0] if hits else None
    return {"detected": first is not None,
            "delay_s": first["delay_s"] if first else None,
            "first_alert": first["alert"] if first else None,
            "in_scope": hits, "false_alarms": false}


# --- the detectors compared ------------------------------------------------------------------

DETECTORS: Final = ("windows", "sequential", "combined")


def detectors(config: DetectorConfig) -> dict[str, DetectorConfig]:
    """The windows alone; the sequential detector alone, the windows' spans rungs of its
    ladder (the windows only judge recovery); and both, each with its own hypotheses. The
    candidate onsets are the configured ones, else the defaults."""
    onsets = tuple(o for o in config.onsets_ms or DEFAULT_ONSETS_MS
                   if o not in config.windows_ms)
    ladder = tuple(sorted({*onsets, *config.windows_ms}))
    return {"windows": replace(config, onsets_ms=(), window_alarms=True),
            "sequential": replace(config, onsets_ms=ladder, window_alarms=False),
            "combined": replace(config, onsets_ms=onsets, window_alarms=True)}


def configured(config: DetectorConfig) -> str:
    """Which of ``DETECTORS`` the configuration in force is."""
    if not config.onsets_ms:
        return "windows"
    return "combined" if config.window_alarms else "sequential"


# --- the stages ------------------------------------------------------------------------------

Fresh = Callable[[str], Warehouse]
"""Name -> a migrated, empty database."""


def backtest(warehouse: Warehouse, *, start_ms: int, end_ms: int,
             configs: dict[str, DetectorConfig], deadline_ms: int
             ) -> tuple[dict[str, list[Change]], int, Series]:
    """Per detector, every change a replay at each 5-minute step of [start, end] makes (one
    read of the minutes for all), the steps, and the minutes read."""
    reach_ms = max(reach(config, deadline_ms) for config in configs.values())
    start_ms -= start_ms % STEP_MS
    end_ms -= end_ms % STEP_MS
    series = bucket_series(warehouse, start_ms=start_ms - reach_ms, end_ms=end_ms, step_ms=STEP_MS)
    changes = {name: replay(series, start_ms=start_ms, end_ms=end_ms, config=config,
                            deadline_ms=deadline_ms) for name, config in configs.items()}
    return changes, (end_ms - start_ms) // STEP_MS + 1, series


# --- what any test needs ----------------------------------------------------------------------

SHARES: Final[dict[str, tuple[str, str, str]]] = {
    "failure-spike": ("failure_rate", "failures", "interactions"),
    "degraded": ("failure_rate", "failures", "interactions"),
    "nps-drop": ("unhappy_share", "followup_needed", "feedback")}
"""Scenario -> the share that shows it first: (metric, hits, observations)."""


def hypotheses(series: Series, end_ms: int, config: DetectorConfig, deadline_ms: int) -> int:
    """How many hypotheses the pass at ``end_ms`` adjusts together."""
    comparisons, _ = series.comparisons(end_ms, config, deadline_ms)
    return sum(f.q_value is not None for f in findings(comparisons, config))


def evidence(scenario: str, incident: Incident, series: Series, config: DetectorConfig,
             deadline_ms: int) -> dict[str, Any]:
    """The arithmetic of a target: how long the scenario's own data takes to be significant.

    The bar is the Benjamini-Hochberg threshold of the strongest of ``m`` hypotheses of
    the pass, ``fdr / m``; the share's observed rate before and during the incident, on its
    scope, give the observations any exact test needs at the median (``needed_observations``).
    """
    end_ms = int(incident.end * 1000) - int(incident.end * 1000) % STEP_MS
    onset_ms = int(incident.start * 1000)
    m = hypotheses(series, end_ms, config, deadline_ms)
    bar = config.fdr / max(1, m)
    row: dict[str, Any] = {"hypotheses": m, "bar": bar}
    if scenario == "followup-backlog":
        return row | {"measure": "followup_sla", "minutes": deadline_ms / 60_000,
                      "why": f"a case is overdue only {format_window(deadline_ms)} after its "
                             "feedback: before that nothing differs"}
    scope = (incident.tenant, incident.channel or ALL, incident.touchpoint or ALL)
    before = series.span(scope, onset_ms - config.baseline_ms, onset_ms, deadline_ms).stats
    during = series.span(scope, onset_ms, end_ms, deadline_ms).stats
    hours = (end_ms - onset_ms) / 3_600_000
    if scenario == "silent-channel":
        usual = before.feedback / (config.baseline_ms / 3_600_000)
        dispersion = config.rules[SILENT].dispersion
        minutes = 60 * dispersion * math.log(1 / bar) / usual if usual else None
        return row | {"measure": "answers", "per_hour": usual, "minutes": minutes,
                      "why": f"no answer where {usual:.0f}/h are usual: p = exp(-{usual:.0f}/h"
                             f" x t / {dispersion:g}) (dispersion) <= {bar:.1g}"}
    metric, hits, of = SHARES[scenario]
    p0 = getattr(before, hits) / max(1, getattr(before, of))
    p1 = getattr(during, hits) / max(1, getattr(during, of))
    per_hour = getattr(during, of) / hours
    n = needed_observations(p0, p1, bar)
    minutes = 60 * n / per_hour if n is not None and per_hour else None
    min_n = config.rules[metric].min_n
    return row | {"measure": metric, "p0": p0, "p1": p1, "per_hour": per_hour, "n": n,
                  "min_n": min_n, "minutes": minutes,
                  "why": f"{metric} {p0:.3f} -> {p1:.3f} on {per_hour:.1f} {of}/h: the median "
                         f"sample reaches p <= {bar:.1g} at n = {n} (a test also needs "
                         f"min_n = {min_n}, earlier data included)"}


def _loaded(fresh: Fresh, name: str, spec: TrafficSpec, deadline_ms: int
            ) -> tuple[Warehouse, dict[str, Any]]:
    warehouse = fresh(name)
    started = time.perf_counter()
    events = load(warehouse, generate(spec), deadline_ms=deadline_ms)
    return warehouse, {"rate": spec.rate, "events": events,
                       "load_s": time.perf_counter() - started}


def scenario_delay(fresh: Fresh, scenario: str, volume: str, per_hour: float, *, days: int,
                   end: int, config: DetectorConfig, deadline_ms: int,
                   incident_hours: float = 3.0) -> dict[str, Any]:
    """One scenario at one volume: load it, replay each detector from an hour before the onset
    to the end. The row's own fields are the configured detector's."""
    spec = TrafficSpec(seed=11, start=end - days * DAY, duration=days * DAY, scenario=scenario,
                       rate=rate_for(scenario, TENANTS, per_hour), tenants=TENANTS,
                       degraded_span=incident_hours * 3600)
    incident = incident_of(spec)
    assert incident is not None, scenario
    say(f"bench alerts: {scenario} at {volume} volume ({per_hour:g} interactions/h): loading "
        f"{days} days")
    warehouse, row = _loaded(fresh, f"{scenario.replace('-', '_')}_{volume}", spec,
                             deadline_ms)
    started = time.perf_counter()
    compared = detectors(config)
    changes, steps, series = backtest(warehouse, start_ms=int(incident.start - 3600) * 1000,
                                      end_ms=end * 1000, configs=compared,
                                      deadline_ms=deadline_ms)
    found = {name: detection(incident, replayed) for name, replayed in changes.items()}
    needs = evidence(scenario, incident, series, compared["combined"], deadline_ms)
    row |= {"scenario": scenario, "volume": volume, "per_hour": per_hour,
            "onset": int(incident.start), "horizon_s": int(incident.end - incident.start),
            "steps": steps, "replay_s": time.perf_counter() - started,
            **found[configured(config)], "detectors": found, "evidence": needs}
    say(f"  {row['events']:,} events in {row['load_s']:.0f}s, {steps} steps x "
        f"{len(found)} detectors in {row['replay_s']:.1f}s: " + ", ".join(
            f"{name} {_minutes(one['delay_s'])} ({len(one['false_alarms'])} outside)"
            for name, one in found.items()))
    return row


def steady_alarms(fresh: Fresh, volume: str, per_hour: float, *, days: int, end: int,
                  tenants: tuple[str, ...], config: DetectorConfig, deadline_ms: int
                  ) -> dict[str, Any]:
    """Steady traffic: every alert of a replay over days 2..N counts as a false alarm."""
    spec = TrafficSpec(seed=8, start=end - days * DAY, duration=days * DAY, scenario="steady",
                       rate=rate_for("steady", tenants, per_hour), tenants=tenants)
    say(f"bench alerts: steady traffic at {volume} volume, {len(tenants)} tenants: loading "
        f"{days} days")
    warehouse, row = _loaded(fresh, f"steady_{volume}", spec, deadline_ms)
    started = time.perf_counter()
    changes, steps, _ = backtest(warehouse, start_ms=(end - (days - 1) * DAY) * 1000,
                              end_ms=end * 1000, configs=detectors(config),
                              deadline_ms=deadline_ms)
    weeks = (days - 1) / 7
    found = {}
    for name, replayed in changes.items():
        fired = [_alert(change) for change in openings(replayed)]
        found[name] = {"alerts": len(fired), "per_tenant_week": len(fired) / (len(tenants) * weeks),
                       "fired": fired}
    row |= {"volume": volume, "per_hour": per_hour, "tenants": len(tenants), "weeks": weeks,
            "steps": steps, "replay_s": time.perf_counter() - started,
            **found[configured(config)], "detectors": found}
    say(f"  {row['events']:,} events in {row['load_s']:.0f}s, {steps} steps x {len(found)} "
        f"detectors in {row['replay_s']:.1f}s: " + ", ".join(
            f"{name} {one['alerts']} alerts" for name, one in found.items()))
    return row


def synthetic_minutes(tenant: int, shape: tuple[int, int, int], hours: int, end_s: int,
                      rng: np.random.Generator) -> list[tuple[Any, ...]]:
    """One tenant's leaf scopes, one ``MINUTE_COLUMNS`` row per scope and hour: steady counts,
    comments on most answers."""
    _, channels, touchpoints = shape
    scopes = [(f"tenant{tenant:03d}", channel, f"tp{touchpoint:02d}")
              for channel in CHANNELS.items[:channels] for touchpoint in range(touchpoints)]
    size = len(scopes) * hours
    interactions = rng.poisson(20, size)
    nps_n = rng.poisson(2, size)
    promoters = rng.binomial(nps_n, 0.5)
    detractors = rng.binomial(nps_n - promoters, 0.4)
    csat5_n = rng.poisson(1, size)
    ces_n = rng.poisson(0.5, size)
    needed = detractors
    comments = rng.poisson(1.5, size)
    negative = rng.binomial(comments, 0.3)
    themes = {f"{THEME_PREFIX}{theme}": rng.binomial(comments, 0.15)
              for theme in COMMENT_THEMES}
    columns = {**themes, "comments": comments, "comments_negative": negative,
               "sentiment_sum": 300 * comments - 900 * negative,
               "sentiment_sum_sq": 400_000 * comments,
               "interactions": interactions, "failures": rng.binomial(interactions, 0.03),
               "nps_n": nps_n, "nps_promoters": promoters, "nps_detractors": detractors,
               "csat5_n": csat5_n, "csat5_satisfied": rng.binomial(csat5_n, 0.8),
               "csat10_n": np.zeros(size, np.int64), "csat10_satisfied": np.zeros(size, np.int64),
               "ces_n": ces_n, "ces_sum": 6 * ces_n, "ces_sum_sq": 37 * ces_n,
               "followup_needed": needed, "followup_met": rng.binomial(needed, 0.8),
               "followup_needed_on_minute": np.zeros(size, np.int64),
               "followup_met_on_minute": np.zeros(size, np.int64)}
    values = zip(*(columns[name].tolist() for name in STAT_COLUMNS), strict=True)
    first = end_s - hours * 3600
    keys = ((*scope, first + hour * 3600) for scope in scopes for hour in range(hours))
    return [(*key, *stats, 1, end_s) for key, stats in zip(keys, values, strict=True)]


class _Timed:
    """A warehouse that adds up the seconds its queries take: the SQL part of a live read."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.database = warehouse.database
        self.seconds = 0.0

    def query(self, sql: str) -> list[dict[str, Any]]:
        started = time.perf_counter()
        try:
            return self.warehouse.query(sql)
        finally:
            self.seconds += time.perf_counter() - started


def _one_pass(warehouse: Warehouse, end_ms: int, config: DetectorConfig, deadline_ms: int
              ) -> dict[str, Any]:
    """Seconds of the live read (its SQL apart), judge and step; what the pass judged."""
    timed = _Timed(warehouse)
    times = [time.perf_counter()]
    comparisons, backlogs = live_comparisons(cast(Warehouse, timed), end_ms, config,
                                             deadline_ms)
    times.append(time.perf_counter())
    verdicts = judge(comparisons, backlogs, config)
    times.append(time.perf_counter())
    changes = step(AlertState(), verdicts, end_ms // 1000, config)
    times.append(time.perf_counter())
    read_s, judge_s, step_s = (b - a for a, b in itertools.pairwise(times))
    return {"scopes_judged": len({c.scope for c in comparisons}),
            "comparisons": len(comparisons), "read_s": read_s, "read_sql_s": timed.seconds,
            "rollups_s": read_s - timed.seconds, "judge_s": judge_s, "step_s": step_s,
            "alerts": len(changes)}


def pass_cost(fresh: Fresh, shape: tuple[int, int, int], hours: int, *, end: int,
              config: DetectorConfig, deadline_ms: int) -> dict[str, Any]:
    """One live evaluation pass over ``shape`` leaf scopes: read, judge and step timed apart."""
    tenants, channels, touchpoints = shape
    leaves = tenants * channels * touchpoints
    say(f"bench alerts: pass cost at {leaves:,} leaf scopes: writing {leaves * hours:,} "
        "minute rows")
    warehouse = fresh(f"pass_{leaves}")
    end_s = end - end % 3600
    rng = np.random.default_rng(5)
    started = time.perf_counter()
    for tenant in range(tenants):
        warehouse.insert("score_minutes", synthetic_minutes(tenant, shape, hours, end_s, rng),
                         MINUTE_COLUMNS)
    insert_s = time.perf_counter() - started
    _one_pass(warehouse, end_s * 1000, config, deadline_ms)  # warm: caches, imports
    timed = _one_pass(warehouse, end_s * 1000, config, deadline_ms)
    tracemalloc.start()
    try:
        _one_pass(warehouse, end_s * 1000, config, deadline_ms)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    row = {"leaf_scopes": leaves, "minute_rows": leaves * hours, "insert_s": insert_s,
           **timed, "peak_traced_mib": peak / 2**20,
           "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    say(f"  {row['scopes_judged']:,} scopes judged: read {row['read_s']:.2f}s, judge "
        f"{row['judge_s']:.2f}s, step {row['step_s'] * 1000:.0f} ms, peak "
        f"{row['peak_traced_mib']:.0f} MiB traced")
    return row


def measure(plan: Plan, fresh: Fresh, config: DetectorConfig, deadline_ms: int,
            end: int) -> dict[str, Any]:
    """Every stage of the plan; ``end`` (Unix seconds) is where all event time ends."""
    check_step(STEP_MS, config, deadline_ms)
    end -= end % (STEP_MS // 1000)
    started = time.perf_counter()
    detections = [scenario_delay(fresh, scenario, volume, per_hour, days=plan.days, end=end,
                                 config=config, deadline_ms=deadline_ms,
                                 incident_hours=plan.incident_hours)
                  for volume, per_hour in plan.volumes.items() for scenario in plan.scenarios]
    steady = [steady_alarms(fresh, volume, per_hour, days=plan.days, end=end,
                            tenants=plan.steady_tenants, config=config, deadline_ms=deadline_ms)
              for volume, per_hour in plan.volumes.items()]
    cost = pass_cost(fresh, plan.cost_shape, plan.cost_hours, end=end, config=config,
                     deadline_ms=deadline_ms)
    return {"plan": asdict(plan), "replay_step_s": STEP_MS // 1000,
            "windows_s": [w // 1000 for w in config.windows_ms],
            "baseline_s": config.baseline_ms // 1000, "fdr": config.fdr,
            "onsets_s": [o // 1000 for o in detectors(config)["sequential"].onsets_ms],
            "configured": configured(config),
            "detection": detections, "steady": steady, "pass_cost": cost,
            "seconds": time.perf_counter() - started}


# --- running it ------------------------------------------------------------------------------

@contextlib.contextmanager
def server_databases(base: str) -> Iterator[Fresh]:
    """Fresh ``bench_alerts_*`` databases on the server at ``base``, dropped afterwards."""
    made: list[Warehouse] = []

    def fresh(name: str) -> Warehouse:
        warehouse = connect(f"{base}/bench_alerts_{name}")
        warehouse.execute(f"DROP DATABASE IF EXISTS {warehouse.database}")
        migrate(warehouse)
        made.append(warehouse)
        return warehouse

    try:
        yield fresh
    finally:
        for warehouse in made:
            with contextlib.suppress(Exception):
                warehouse.execute(f"DROP DATABASE IF EXISTS {warehouse.database}")
            warehouse.close()


def run(settings: Settings, *, quick: bool, output: str | None) -> int:
    plan = QUICK if quick else FULL
    config = settings.detector()
    with tempfile.TemporaryDirectory(prefix="cxpulse-bench-alerts-") as scratch, \
            server_base(settings, Path(scratch)) as base:
        if base is None:
            raise ValueError("bench alerts needs a ClickHouse server: install clickhouse-server "
                             "or set CX_CLICKHOUSE_URL")
        with server_databases(base) as fresh:
            results = measure(plan, fresh, config, settings.followup_deadline_ms,
                              int(time.time()))
    print(report(results))
    if output:
        Path(output).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "not detected"
    return f"{seconds / 3600:.1f} h" if seconds >= 5 * 3600 else f"{seconds / 60:.0f} min"


def _needs(minutes: float | None) -> str:
    return "beyond" if minutes is None else _minutes(60 * minutes)


def _by_metric(hits: list[dict[str, Any]]) -> str:
    """Each metric that fired in scope, at its first delay: ``nps 35m, health 40m``."""
    first: dict[str, int] = {}
    for hit in hits:
        first.setdefault(hit["alert"].rsplit("/", 1)[1], hit["delay_s"])
    return ", ".join(f"{metric} {_minutes(delay).replace(' ', '')}"
                     for metric, delay in first.items()) or "-"


def report(results: dict[str, Any]) -> str:
    """The tables for people: detection per scenario, volume and detector, steady alarms,
    pass cost."""
    every = results["replay_step_s"] // 60
    onsets = ",".join(format_window(o * 1000) for o in results["onsets_s"])
    lines = [f"detection delay (onset -> first firing; replay every {every} min from an hour "
             f"before the onset; sequential onsets {onsets}; configured: "
             f"{results['configured']})",
             f"{'scenario':<18}{'volume':<7}{'/h':>5}{'events':>10}{'horizon':>9}  "
             + "".join(f"{name:<14}" for name in DETECTORS)
             + f"{'false':>6}  in scope, combined (metric: first delay)"]
    for row in results["detection"]:
        found = row["detectors"]
        lines.append(f"{row['scenario']:<18}{row['volume']:<7}{row['per_hour']:>5.0f}"
                     f"{row['events']:>10,}{_minutes(row['horizon_s']):>9}  "
                     + "".join(f"{_minutes(found[name]['delay_s']):<14}" for name in DETECTORS)
                     + f"{len(found['combined']['false_alarms']):>6}  "
                     f"{_by_metric(found['combined']['in_scope'])}")
    lines += ["", "what any test needs: the scenario's own share on its scope, the median sample "
              "against the bar fdr/m of the pass's m hypotheses (combined)",
              f"{'scenario':<18}{'volume':<7}{'m':>6}{'bar':>9}  {'needs':<10}how"]
    for row in results["detection"]:
        needs = row["evidence"]
        lines.append(f"{row['scenario']:<18}{row['volume']:<7}{needs['hypotheses']:>6}"
                     f"{needs['bar']:>9.1g}  {_needs(needs.get('minutes')):<10}"
                     f"{needs['why']}")
    lines += ["", "false alarms on steady traffic (replay of days 2..N, every step): alerts "
              "(per tenant-week)",
              f"{'volume':<7}{'/h':>5}{'tenants':>8}{'weeks':>6}{'events':>10}  "
              + "".join(f"{name:<14}" for name in DETECTORS)]
    for row in results["steady"]:
        found = row["detectors"]
        lines.append(f"{row['volume']:<7}{row['per_hour']:>5.0f}{row['tenants']:>8}"
                     f"{row['weeks']:>6.1f}{row['events']:>10,}  " + "".join(
                         f"{found[name]['alerts']} ({found[name]['per_tenant_week']:.2f})"
                         .ljust(14) for name in DETECTORS))
        lines += [f"  {name}: {alarm['alert']} at {alarm['at']}: {alarm['reason']}"
                  for name in DETECTORS for alarm in found[name]["fired"]]
    cost = results["pass_cost"]
    lines += ["", f"one evaluation pass at {cost['leaf_scopes']:,} leaf scopes "
              f"({cost['scopes_judged']:,} judged with rollups, {cost['comparisons']:,} "
              "comparisons)",
              f"read (live_comparisons) {cost['read_s']:.2f}s (SQL {cost['read_sql_s']:.2f}s, "
              f"rollups in Python {cost['rollups_s']:.2f}s), judge "
              f"{cost['judge_s']:.2f}s, step {cost['step_s'] * 1000:.0f} ms; peak "
              f"{cost['peak_traced_mib']:.0f} MiB traced, max RSS {cost['max_rss_mib']:.0f} MiB"]
    return "\n".join(lines)
