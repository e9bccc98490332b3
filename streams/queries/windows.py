"""Scores for a window from ``score_minutes``: per scope and rolled up (``*``).

ClickHouse sums the minutes and applies the follow-up deadline rule of
``core.scores.due_bounds``; the score math is ``core.scores.scores``. Grouping
(rollups, or top-N touchpoints for gauges) sums statistics, so it stays exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from streams.core.scores import DEFAULT_WEIGHTS, SCORE_KEYS, Followups, due_bounds, scores
from streams.core.stats import ALL, MINUTE_MS, STAT_COLUMNS, Scope, Stats, rollups
from streams.core.units import format_time, format_window
from streams.warehouse import Warehouse
from streams.warehouse.sql import sql_literal

SCOPE_PARTS = ("tenant", "channel", "touchpoint")
Totals = tuple[Stats, Followups]

# Aliases differ from the column names: ClickHouse substitutes aliases everywhere in a
# query, so ``sum(x) AS x`` would change what a WHERE or sumIf() on ``x`` means.
STAT_SUMS = ", ".join(f"sum({column}) AS total_{column}" for column in STAT_COLUMNS)


def stats_of_sums(row: Mapping[str, Any]) -> Stats:
    """The ``Stats`` of a row selected with ``STAT_SUMS``."""
    return Stats(*(int(row[f"total_{column}"]) for column in STAT_COLUMNS))


def scope_totals(warehouse: Warehouse, end_ms: int, window_ms: int, deadline_ms: int,
                 filters: Mapping[str, str],
                 grouping: tuple[str, str, str] = SCOPE_PARTS) -> dict[Scope, Totals]:
    """Summed statistics and due/met follow-ups per scope for [end - window, end).

    ``grouping`` holds the SQL expressions that make the scope, e.g. ``'*'`` for a
    rolled-up part, so ClickHouse does the grouping and few rows come back.
    """
    start_s, end_s = (end_ms - window_ms) // 1000, end_ms // 1000
    whole_s, edge_s = (bound // 1000 for bound in due_bounds(end_ms, deadline_ms))
    where = [f"minute >= toDateTime({start_s})", f"minute < toDateTime({end_s})"]
    where += [f"{column} = {sql_literal(value)}" for column, value in filters.items()
              if value != ALL]
    rows = warehouse.query(
        f"SELECT {grouping[0]} AS g_tenant, {grouping[1]} AS g_channel, "
        f"{grouping[2]} AS g_touchpoint, {STAT_SUMS}, "
        f"sumIf(followup_needed, minute <= toDateTime({whole_s})) "
        f"+ sumIf(followup_needed_on_minute, minute = toDateTime({edge_s})) AS due, "
        f"sumIf(followup_met, minute <= toDateTime({whole_s})) "
        f"+ sumIf(followup_met_on_minute, minute = toDateTime({edge_s})) AS met "
        f"FROM {warehouse.database}.score_minutes FINAL WHERE {' AND '.join(where)} "
        "GROUP BY g_tenant, g_channel, g_touchpoint")
    return {(row["g_tenant"], row["g_channel"], row["g_touchpoint"]):
            (stats_of_sums(row), Followups(int(row["due"]), int(row["met"]))) for row in rows}


def group(totals: Mapping[Scope, Totals],
          targets: Callable[[Scope], Iterable[Scope]] = rollups) -> dict[Scope, Totals]:
    """Sum each scope into the scopes ``targets`` names (by default: itself and rollups)."""
    grouped: dict[Scope, Totals] = {}
    for scope, (stats, followups) in totals.items():
        for target in targets(scope):
            have_stats, have = grouped.get(target, (Stats(), Followups(0, 0)))
            grouped[target] = (have_stats + stats,
                               Followups(have.due + followups.due, have.met + followups.met))
    return grouped


def score_rows(grouped: Mapping[Scope, Totals], *, end_ms: int, window_ms: int,
               weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> list[dict[str, Any]]:
    """Every score (intervals and counts included) per scope, with the scope and window."""
    window_end = format_time(end_ms, millis=False)
    return [{"tenant": scope[0], "channel": scope[1], "touchpoint": scope[2],
             "window": format_window(window_ms), "window_end": window_end,
             **scores(stats, followups, weights)}
            for scope, (stats, followups) in sorted(grouped.items())]


def window_scores(warehouse: Warehouse, *, end_ms: int, window_ms: int, deadline_ms: int,
                  tenant: str | None = None, channel: str | None = None,
                  touchpoint: str | None = None,
                  weights: Mapping[str, float] = DEFAULT_WEIGHTS,
                  detail: bool = False) -> list[dict[str, Any]]:
    """One object per scope and rollup matching the filters, keys as in DESIGN.md;
    ``detail`` adds the intervals and counts (``csat_low``, ``interactions``, ...)."""
    end_ms -= end_ms % MINUTE_MS
    filters = {name: value for name, value in zip(SCOPE_PARTS, (tenant, channel, touchpoint),
                                                  strict=True) if value}
    grouped = group(scope_totals(warehouse, end_ms, window_ms, deadline_ms, filters))
    matching = {scope: totals for scope, totals in grouped.items()
                if all(scope[SCOPE_PARTS.index(name)] == value
                       for name, value in filters.items())}
    rows = score_rows(matching, end_ms=end_ms, window_ms=window_ms, weights=weights)
    if detail:
        return rows
    keys = (*SCOPE_PARTS, "window", "window_end", *SCORE_KEYS)
    return [{key: row[key] for key in keys} for row in rows]
