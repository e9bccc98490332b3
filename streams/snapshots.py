"""Rolling score snapshots for Prometheus gauges and ``cx.scores``, label cardinality bounded.

Gauges carry tenant, channel, touchpoint and window; only the top-N touchpoints
(by interactions and answers in the widest window) keep their name, the rest
are summed into ``other``. Rollups carry ``*``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from prometheus_client import Gauge

from streams.reading import Totals, group, scope_totals, score_rows
from streams.stats import ALL, MINUTE_MS, Scope
from streams.warehouse import Warehouse

Row = dict[str, Any]

OTHER = "other"
LABELS = ("tenant", "channel", "touchpoint", "window")
GAUGES: dict[str, Gauge] = {
    key: Gauge(f"cx_{key}", help_text, LABELS) for key, help_text in {
        "nps": "Net Promoter Score, -100..100",
        "nps_moe": "95% margin of error of cx_nps, points",
        "nps_n": "NPS answers in the window",
        "csat": "CSAT, % satisfied (top-2 box)",
        "csat_low": "Lower bound of the 95% Wilson interval of cx_csat",
        "csat_high": "Upper bound of the 95% Wilson interval of cx_csat",
        "csat_n": "CSAT answers in the window",
        "ces": "Customer Effort Score, mean 1..7 (higher is easier)",
        "ces_low": "Lower bound of the 95% interval of cx_ces",
        "ces_high": "Upper bound of the 95% interval of cx_ces",
        "ces_n": "CES answers in the window",
        "health": "CX health index, 0..100",
        "response_rate": "Feedback answers per interaction",
        "failure_rate": "Share of interactions that failed",
        "interactions": "Interactions in the window",
        "followup_sla": "Share of due follow-ups met within the deadline",
        "followup_due": "Feedback due for follow-up in the window",
        "followup_overdue": "Due follow-ups not met",
    }.items()}


def top_touchpoints(totals: Mapping[Scope, Totals], top_n: int) -> set[str]:
    volume: Counter[str] = Counter()
    for (_, _, touchpoint), (stats, _) in totals.items():
        volume[touchpoint] += stats.interactions + stats.feedback
    return {name for name, _ in volume.most_common(top_n)}


def gauge_groups(totals: Mapping[Scope, Totals], keep: set[str]) -> dict[Scope, Totals]:
    def targets(scope: Scope) -> tuple[Scope, Scope, Scope]:
        tenant, channel, touchpoint = scope
        return ((tenant, channel, touchpoint if touchpoint in keep else OTHER),
                (tenant, channel, ALL), (tenant, ALL, ALL))

    return group(totals, targets)


def snapshot(warehouse: Warehouse, *, now_ms: int, windows_ms: list[int], deadline_ms: int,
             top_n: int, weights: Mapping[str, float]) -> tuple[list[Row], list[Row]]:
    """(rows for cx.scores: every scope and rollup; rows for gauges: top-N touchpoints)."""
    end_ms = now_ms - now_ms % MINUTE_MS
    per_window = {window: scope_totals(warehouse, end_ms, window, deadline_ms, {})
                  for window in windows_ms}
    keep = top_touchpoints(per_window[max(per_window)], top_n)
    topic_rows: list[Row] = []
    gauge_rows: list[Row] = []
    for window_ms, totals in per_window.items():
        topic_rows += score_rows(group(totals), end_ms=end_ms, window_ms=window_ms,
                                 weights=weights)
        gauge_rows += score_rows(gauge_groups(totals, keep), end_ms=end_ms,
                                 window_ms=window_ms, weights=weights)
    return topic_rows, gauge_rows


def publish_gauges(rows: list[Row]) -> None:
    """Set every gauge from fresh rows; label sets that vanished or have no data are removed."""
    for key, gauge in GAUGES.items():
        fresh = {tuple(row[label] for label in LABELS): row[key] for row in rows
                 if row[key] is not None}
        for labels in set(_label_sets(gauge)) - fresh.keys():
            gauge.remove(*labels)
        for labels, value in fresh.items():
            gauge.labels(*labels).set(value)


def clear_gauges() -> None:
    for gauge in GAUGES.values():
        gauge.clear()


def _label_sets(gauge: Gauge) -> list[tuple[str, ...]]:
    return [tuple(sample.labels[label] for label in LABELS)
            for metric in gauge.collect() for sample in metric.samples]
