"""Scores for a window from ``score_minutes``: per scope and rolled up (``*``).

ClickHouse sums the minutes; the follow-up counts apply the deadline edge of
``scores.followups_due`` in SQL; the score math is ``scores.scores``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from streams.scores import DEFAULT_WEIGHTS, SCORE_KEYS, Followups, scores
from streams.stats import ALL, MINUTE_MS, STAT_COLUMNS, Scope, Stats, rollups
from streams.warehouse import Warehouse
from streams.warehouse.sql import sql_literal

SCOPE_PARTS = ("tenant", "channel", "touchpoint")


def format_window(window_ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if window_ms % size == 0:
            return f"{window_ms // size}{unit}"
    return f"{window_ms // 1000}s"


def scope_totals(warehouse: Warehouse, end_ms: int, window_ms: int, deadline_ms: int,
                 filters: dict[str, str]) -> dict[Scope, tuple[Stats, Followups]]:
    """Summed statistics and due/met follow-ups per scope for [end - window, end)."""
    start_s, end_s, edge_s = ((end_ms - window_ms) // 1000, end_ms // 1000,
                              (end_ms - deadline_ms) // 1000)
    # Aliases must not shadow the columns that the sumIf() below reads.
    sums = ", ".join(f"sum({column}) AS total_{column}" for column in STAT_COLUMNS)
    where = [f"minute >= toDateTime({start_s})", f"minute < toDateTime({end_s})"]
    where += [f"{column} = {sql_literal(value)}" for column, value in filters.items()
              if value != ALL]
    rows = warehouse.query(
        f"SELECT tenant, channel, touchpoint, {sums}, "
        f"sumIf(followup_needed, minute <= toDateTime({edge_s - 60})) "
        f"+ sumIf(followup_needed_on_minute, minute = toDateTime({edge_s})) AS due, "
        f"sumIf(followup_met, minute <= toDateTime({edge_s - 60})) "
        f"+ sumIf(followup_met_on_minute, minute = toDateTime({edge_s})) AS met "
        f"FROM {warehouse.database}.score_minutes FINAL WHERE {' AND '.join(where)} "
        "GROUP BY tenant, channel, touchpoint")
    return {(row["tenant"], row["channel"], row["touchpoint"]):
            (Stats(*(int(row[f"total_{column}"]) for column in STAT_COLUMNS)),
             Followups(int(row["due"]), int(row["met"]))) for row in rows}


def window_scores(warehouse: Warehouse, *, end_ms: int, window_ms: int, deadline_ms: int,
                  tenant: str | None = None, channel: str | None = None,
                  touchpoint: str | None = None,
                  weights: dict[str, float] = DEFAULT_WEIGHTS) -> list[dict[str, Any]]:
    """One object per scope and rollup matching the filters, keys as in DESIGN.md."""
    end_ms -= end_ms % MINUTE_MS
    filters = {name: value for name, value in zip(SCOPE_PARTS, (tenant, channel, touchpoint),
                                                  strict=True) if value}
    totals: dict[Scope, list[Any]] = defaultdict(lambda: [Stats(), 0, 0])
    for scope, (stats, followups) in scope_totals(warehouse, end_ms, window_ms, deadline_ms,
                                                  filters).items():
        for target in rollups(scope):
            total = totals[target]
            total[0] += stats
            total[1] += followups.due
            total[2] += followups.met
    window_end = datetime.fromtimestamp(end_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    result = []
    for scope in sorted(totals):
        if any(scope[SCOPE_PARTS.index(name)] != value for name, value in filters.items()):
            continue
        stats, due, met = totals[scope]
        values = scores(stats, Followups(due, met), weights)
        result.append({"tenant": scope[0], "channel": scope[1], "touchpoint": scope[2],
                       "window": format_window(window_ms), "window_end": window_end,
                       **{key: values[key] for key in SCORE_KEYS}})
    return result
