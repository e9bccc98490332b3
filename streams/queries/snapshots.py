"""Rolling score snapshots for the gauges and ``cx.scores``, over a bounded set of scopes.

Only the top-N touchpoints (by interactions and answers in the widest window)
keep their name, the rest are summed into ``other``, and rollups carry ``*``:
so the label sets the worker publishes stay few however many scopes exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.core.scores import is_blind_spot
from streams.core.stats import ALL, MINUTE_MS, Scope
from streams.queries.windows import Totals, scope_totals, score_rows
from streams.warehouse import Warehouse
from streams.warehouse.sql import in_list, sql_literal

Row = dict[str, Any]

OTHER = "other"


def top_touchpoints(warehouse: Warehouse, end_ms: int, window_ms: int, top_n: int) -> list[str]:
    """The ``top_n`` touchpoints with the most interactions and answers in the window."""
    if top_n <= 0:
        return []
    start_s, end_s = (end_ms - window_ms) // 1000, end_ms // 1000
    rows = warehouse.query(
        "SELECT touchpoint, sum(interactions + nps_n + csat5_n + csat10_n + ces_n) AS volume "
        f"FROM {warehouse.database}.score_minutes FINAL WHERE minute >= toDateTime({start_s}) "
        f"AND minute < toDateTime({end_s}) GROUP BY touchpoint "
        f"ORDER BY volume DESC, touchpoint LIMIT {int(top_n)}")
    return [row["touchpoint"] for row in rows]


def groupings(keep: list[str]) -> list[tuple[str, str, str]]:
    """SQL scope expressions: kept touchpoints by name, the rest as ``other``, and rollups."""
    touchpoint = (f"if(touchpoint IN {in_list(keep)}, touchpoint, {sql_literal(OTHER)})"
                  if keep else sql_literal(OTHER))
    everything = sql_literal(ALL)
    return [("tenant", "channel", touchpoint), ("tenant", "channel", everything),
            ("tenant", everything, everything)]


def snapshot(warehouse: Warehouse, *, now_ms: int, windows_ms: list[int], deadline_ms: int,
             top_n: int, weights: Mapping[str, float], min_answers: int = 5) -> list[Row]:
    """Scores of every window for the bounded scope set: what gauges and cx.scores show.

    ClickHouse groups, so the cost is the same for 100 or 100,000 scopes here; the
    full per-touchpoint detail stays one ``cxpulse scores`` or ``/v1/scores`` away.
    """
    end_ms = now_ms - now_ms % MINUTE_MS
    keep = top_touchpoints(warehouse, end_ms, max(windows_ms), top_n)
    rows: list[Row] = []
    for window_ms in windows_ms:
        totals: dict[Scope, Totals] = {}
        for grouping in groupings(keep):
            totals |= scope_totals(warehouse, end_ms, window_ms, deadline_ms, {}, grouping)
        rows += score_rows(totals, end_ms=end_ms, window_ms=window_ms, weights=weights)
    for row in rows:  # coverage is per channel: the (tenant, channel, *) rows
        per_channel = row["touchpoint"] == ALL and row["channel"] != ALL
        row["blind_spot"] = (int(is_blind_spot(row["interactions"], row["feedback"], min_answers))
                             if per_channel else None)
    return rows
