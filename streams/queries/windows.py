"""Scores for a window from ``score_minutes``: per scope and rolled up (``*``).

ClickHouse sums the minutes and applies the follow-up deadline rule of
``core.scores.due_bounds``; the score math is ``core.scores.scores``. Grouping
(rollups, or top-N touchpoints for gauges) sums statistics, so it stays exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from streams.core.buckets import DAY_S, HOUR_S, MINUTE_S, SIZES, Run, cover
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


TABLES: dict[int, tuple[str, str]] = {
    MINUTE_S: ("score_minutes", "minute"), HOUR_S: ("score_hours", "hour"),
    DAY_S: ("score_days", "day")}
"""Bucket size -> (table, bucket column): the minutes and their exact rollups."""


def _within(runs: list[Run], size: int, column: str) -> str:
    """SQL: the column lies in one of the runs of this bucket size ("0" if none)."""
    ranges = [f"({column} >= toDateTime({low}) AND {column} < toDateTime({high}))"
              for run_size, low, high in runs if run_size == size]
    return " OR ".join(ranges) or "0"


def _part(warehouse: Warehouse, size: int, stats_runs: list[Run], due_runs: list[Run],
          edge_s: int | None, where: list[str]) -> str | None:
    """One table's share of the window: its stats and its due/met follow-ups, per scope."""
    table, column = TABLES[size]
    in_stats, in_due = _within(stats_runs, size, column), _within(due_runs, size, column)
    on_edge = f"{column} = toDateTime({edge_s})" if size == MINUTE_S and edge_s is not None \
        else "0"
    if in_stats == in_due == on_edge == "0":
        return None
    sums = [f"sumIf({c}, {in_stats}) AS part_{c}" for c in STAT_COLUMNS]
    sums += [f"sumIf(followup_{kind}, {in_due}) + sumIf(followup_{kind}_on_minute, {on_edge}) "
             f"AS part_{kind}" for kind in ("needed", "met")]
    return (f"SELECT tenant, channel, touchpoint, {', '.join(sums)} "
            f"FROM {warehouse.database}.{table} FINAL "
            f"WHERE ({in_stats} OR {in_due} OR {on_edge}){''.join(' AND ' + w for w in where)} "
            "GROUP BY tenant, channel, touchpoint")


def scope_totals(warehouse: Warehouse, end_ms: int, window_ms: int, deadline_ms: int,
                 filters: Mapping[str, str],
                 grouping: tuple[str, str, str] = SCOPE_PARTS,
                 sizes: tuple[int, ...] = SIZES) -> dict[Scope, Totals]:
    """Summed statistics and due/met follow-ups per scope for [end - window, end).

    Reads the coarsest table that answers exactly (``core.buckets.cover``):
    whole days from score_days, whole hours from score_hours, the ragged edges
    from score_minutes, so the cost does not grow with the window. The follow-up
    rule of ``core.scores.due_bounds`` is a range too (the minutes up to
    ``whole``), plus the ``*_on_minute`` counts of the one ``edge`` minute.
    ``grouping`` holds the SQL expressions that make the scope, e.g. ``'*'`` for
    a rolled-up part, so ClickHouse does the grouping and few rows come back.
    ``sizes=(MINUTE_S,)`` reads the minutes alone (the benchmark's baseline).
    """
    start_s, end_s = (end_ms - window_ms) // 1000, end_ms // 1000
    whole_ms, edge_ms = due_bounds(end_ms, deadline_ms)
    due_end_s = min(end_s, (whole_ms - whole_ms % MINUTE_MS + MINUTE_MS) // 1000)
    edge_s = edge_ms // 1000 if edge_ms % MINUTE_MS == 0 and start_s <= edge_ms // 1000 < end_s \
        else None
    stats_runs, due_runs = cover(start_s, end_s, sizes), cover(start_s, due_end_s, sizes)
    where = [f"{column} = {sql_literal(value)}" for column, value in filters.items()
             if value != ALL]
    parts = [part for size in TABLES
             if (part := _part(warehouse, size, stats_runs, due_runs, edge_s, where))]
    if not parts:
        return {}
    totals = ", ".join(f"sum(part_{c}) AS total_{c}" for c in STAT_COLUMNS)
    rows = warehouse.query(
        f"SELECT {grouping[0]} AS g_tenant, {grouping[1]} AS g_channel, "
        f"{grouping[2]} AS g_touchpoint, {totals}, sum(part_needed) AS due, "
        f"sum(part_met) AS met FROM ({' UNION ALL '.join(parts)}) "
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


def daily_totals(warehouse: Warehouse, table: str, column: str, start_s: int,
                 end_s: int) -> list[dict[str, Any]]:
    """Every statistic summed per UTC day over all scopes in [start, end): ``d`` (days since
    the epoch) and ``total_<statistic>`` (``STAT_SUMS``), from ``score_minutes``,
    ``score_hours`` or ``score_days`` (``column``: its bucket), so a trend can be read from
    any grain and the grains compared."""
    return warehouse.query(
        f"SELECT intDiv(toUnixTimestamp({column}), 86400) AS d, {STAT_SUMS} "
        f"FROM {warehouse.database}.{table} FINAL "
        f"WHERE {column} >= toDateTime({start_s}) AND {column} < toDateTime({end_s}) "
        "GROUP BY d ORDER BY d")
