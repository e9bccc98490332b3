"""What the detector reads from ``score_minutes`` and what it records in ``cx.alerts``.

A live pass asks ClickHouse for one row per scope with every span summed
(``sumIf``), so its cost grows with the scopes, not with the days of baseline.
A backtest asks once for the minutes bucketed by its step and slides over them
(``core.series``). A span's follow-ups are those that came due in it (feedback
one deadline earlier); a test holds both reads equal.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from streams.core.alerts import ALERT_COLUMNS, FIRING, Change
from streams.core.drops import Comparison, DetectorConfig, Span
from streams.core.scores import Followups
from streams.core.series import Series
from streams.core.stats import ALL, MINUTE_MS, STAT_COLUMNS, Scope, Stats, rollups
from streams.core.units import format_time
from streams.queries.windows import STAT_SUMS, stats_of_sums
from streams.warehouse import Warehouse
from streams.warehouse.sql import sql_literal

_Part = tuple[str, int, int]
"""(alias prefix, start ms, end ms) of one span."""
BACKLOG = "backlog"
"""The span only the follow-up bounds read: its due and met follow-ups, no statistics."""


def _span_sums(parts: list[_Part], deadline_ms: int) -> str:
    columns = []
    for name, start, end in parts:
        inside = f"minute >= toDateTime({start // 1000}) AND minute < toDateTime({end // 1000})"
        if name != BACKLOG:
            columns += [f"sumIf({column}, {inside}) AS {name}_{column}"
                        for column in STAT_COLUMNS]
        came_due = (f"minute >= toDateTime({(start - deadline_ms) // 1000}) "
                    f"AND minute < toDateTime({(end - deadline_ms) // 1000})")
        columns += [f"sumIf(followup_{kind}, {came_due}) AS {name}_due_{kind}"
                    for kind in ("needed", "met")]
    return ", ".join(columns)


def _span(row: Mapping[str, Any], name: str, minutes: float) -> Span:
    stats = Stats() if name == BACKLOG else Stats(*(int(row[f"{name}_{column}"])
                                                     for column in STAT_COLUMNS))
    return Span(stats, Followups(int(row[f"{name}_due_needed"]), int(row[f"{name}_due_met"])),
                minutes)


def _add(a: Span, b: Span) -> Span:
    return Span(a.stats + b.stats, Followups(a.followups.due + b.followups.due,
                                             a.followups.met + b.followups.met), a.minutes)


def live_comparisons(warehouse: Warehouse, end_ms: int, config: DetectorConfig,
                     deadline_ms: int) -> tuple[list[Comparison], dict[str, Span]]:
    """Per scope and rollup, each recent window against its baseline, ending at ``end_ms``.

    Also each tenant's follow-up backlog span (the baseline length up to the end): its
    follow-ups only, all the bounds read, so the pass sums no statistics for it.
    """
    end_ms -= end_ms % MINUTE_MS
    parts: list[_Part] = []
    for i, window in enumerate(config.windows_ms):
        parts.append((f"r{i}", end_ms - window, end_ms))
        parts.append((f"b{i}", end_ms - window - config.baseline_ms, end_ms - window))
    # Candidate onsets share the baseline before the longest span (a window's, if it is one).
    longest = config.longest_ms
    onset_base = next((f"b{i}" for i, w in enumerate(config.windows_ms) if w == longest),
                      "bo")
    if config.onsets_ms and onset_base == "bo":
        parts.append(("bo", end_ms - longest - config.baseline_ms, end_ms - longest))
    # An onset as long as a window reads the window's recent span.
    recent = {window: f"r{i}" for i, window in enumerate(config.windows_ms)}
    parts += [(f"o{j}", end_ms - onset, end_ms) for j, onset in enumerate(config.onsets_ms)
              if onset not in recent]
    parts.append((BACKLOG, end_ms - config.baseline_ms, end_ms))
    start_s = (end_ms - config.longest_ms - config.baseline_ms - deadline_ms) // 1000
    rows = warehouse.query(
        f"SELECT tenant, channel, touchpoint, {_span_sums(parts, deadline_ms)} "
        f"FROM {warehouse.database}.score_minutes FINAL "
        f"WHERE minute >= toDateTime({start_s}) AND minute < toDateTime({end_ms // 1000}) "
        "GROUP BY tenant, channel, touchpoint")
    spans: dict[tuple[Scope, str], Span] = {}
    for row in rows:
        scope = (row["tenant"], row["channel"], row["touchpoint"])
        for name, start, end in parts:
            span = _span(row, name, (end - start) / MINUTE_MS)
            for target in rollups(scope):
                have = spans.get((target, name))
                spans[(target, name)] = span if have is None else _add(have, span)
    names = [(window, f"r{i}", f"b{i}", False) for i, window in enumerate(config.windows_ms)]
    names += [(onset, recent.get(onset, f"o{j}"), onset_base, True)
              for j, onset in enumerate(config.onsets_ms)]
    comparisons = [Comparison(scope, span, spans[(scope, recent)], spans[(scope, base)], onset)
                   for scope in sorted({scope for scope, _ in spans})
                   for span, recent, base, onset in names]
    backlogs = {scope[0]: span for (scope, name), span in spans.items()
                if name == BACKLOG and scope[1] == ALL}
    return comparisons, backlogs


def newest_minute(warehouse: Warehouse, since_ms: int) -> int | None:
    """The newest minute with statistics at or after ``since_ms`` (epoch ms), if any."""
    rows = warehouse.query(
        f"SELECT count() AS minutes, toUnixTimestamp(max(minute)) AS newest "
        f"FROM {warehouse.database}.score_minutes WHERE minute >= toDateTime({since_ms // 1000})")
    return int(rows[0]["newest"]) * 1000 if rows and int(rows[0]["minutes"]) else None


def bucket_series(warehouse: Warehouse, *, start_ms: int, end_ms: int, step_ms: int) -> Series:
    """``score_minutes`` in [start, end) bucketed by ``step_ms`` from ``start_ms``, as a Series."""
    start_s, step_s = start_ms // 1000, step_ms // 1000
    bucket = f"intDiv(toUnixTimestamp(minute) - {start_s}, {step_s})"
    rows = warehouse.query(
        f"SELECT tenant, channel, touchpoint, {bucket} AS bucket, {STAT_SUMS} "
        f"FROM {warehouse.database}.score_minutes FINAL "
        f"WHERE minute >= toDateTime({start_s}) AND minute < toDateTime({end_ms // 1000}) "
        "GROUP BY tenant, channel, touchpoint, bucket")
    return Series.build(
        (((row["tenant"], row["channel"], row["touchpoint"]), int(row["bucket"]),
          list(stats_of_sums(row).as_dict().values())) for row in rows),
        origin_ms=start_ms, step_ms=step_ms, buckets=-(-(end_ms - start_ms) // step_ms))


# --- cx.alerts -------------------------------------------------------------------------------

def record(warehouse: Warehouse, changes: list[Change]) -> None:
    warehouse.insert("alerts", [change.row() for change in changes], ALERT_COLUMNS)


_SELECT = ", ".join(f"`{column}`" if column == "window" else column for column in ALERT_COLUMNS
                    if column != "at") + ", toUnixTimestamp(at) AS at"


def _change(row: Mapping[str, Any]) -> Change:
    return Change(**{column: row[column] for column in ALERT_COLUMNS})


def history(warehouse: Warehouse, *, since_s: int = 0, firing_only: bool = False,
            tenant: str | None = None) -> list[Change]:
    """Alert state changes since ``since_s``, oldest first; ``firing_only``: the open alerts
    (their latest change, as a new leader rebuilds them); ``tenant``: only its own."""
    if firing_only:
        latest = {change.key: change for change in recorded(warehouse)}  # ordered by at
        return sorted((c for c in latest.values() if c.state == FIRING and c.at >= since_s
                       and tenant in (None, c.key[0])), key=lambda c: (c.at, c.key))
    only = f"AND tenant = {sql_literal(tenant)} " if tenant else ""
    rows = warehouse.query(
        f"SELECT DISTINCT {_SELECT} FROM {warehouse.database}.alerts "
        f"WHERE at >= toDateTime({int(since_s)}) {only}ORDER BY at, tenant, channel, "
        "touchpoint, metric, state")
    return [_change(row) for row in rows]


def alert_rows(changes: list[Change]) -> list[dict[str, Any]]:
    """Changes as JSON-ready rows, ``at`` in RFC 3339: ``cxpulse alerts --json``, /v1/alerts."""
    return [change.as_dict() | {"at": format_time(change.at * 1000, millis=False)}
            for change in changes]


def recorded(warehouse: Warehouse, *, keep_s: int = 7 * 86400) -> list[Change]:
    """What a leader needs to rebuild the state: every change of open alerts and recent ones.

    The latest change per key decides; older resolutions only matter for the
    cooldown, so the read stays small however long the history grows.
    """
    since = int(time.time()) - keep_s
    rows = warehouse.query(
        f"SELECT DISTINCT {_SELECT} FROM {warehouse.database}.alerts "
        f"WHERE (tenant, channel, touchpoint, metric) IN (SELECT tenant, channel, touchpoint, "
        f"metric FROM {warehouse.database}.alerts GROUP BY tenant, channel, touchpoint, metric "
        f"HAVING argMax(state, at) = '{FIRING}' OR max(at) >= toDateTime({since})) "
        "ORDER BY at")
    return [_change(row) for row in rows]
