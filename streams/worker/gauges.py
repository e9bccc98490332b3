"""Score gauges for Prometheus: one gauge per score, labelled by scope and window.

The label sets come from ``queries.snapshots`` (top-N touchpoints, ``other``,
rollups), so their number stays bounded however many scopes there are.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Gauge

Row = dict[str, Any]

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
        "blind_spot": "1 when a channel has interactions but fewer than CX_MIN_ANSWERS answers",
    }.items()}


ALERT_LABELS = ("tenant", "channel", "touchpoint", "metric", "severity")
ALERT_ACTIVE = Gauge("cx_alert_active", "1 while a CX alert is open (score drop, silent channel, "
                     "follow-up backlog); the series goes when it resolves", ALERT_LABELS)


def show_alerts(open_labels: set[tuple[str, ...]]) -> None:
    """Set ``cx_alert_active`` to exactly these open alerts (``ALERT_LABELS`` values)."""
    have = {tuple(sample.labels[label] for label in ALERT_LABELS)
            for metric in ALERT_ACTIVE.collect() for sample in metric.samples}
    for labels in have - open_labels:
        ALERT_ACTIVE.remove(*labels)
    for labels in open_labels:
        ALERT_ACTIVE.labels(*labels).set(1)


def publish_gauges(rows: list[Row]) -> None:
    """Set every gauge from fresh rows; label sets that vanished or have no data are removed."""
    for key, gauge in GAUGES.items():
        fresh = {tuple(row[label] for label in LABELS): row[key] for row in rows
                 if row.get(key) is not None}
        for labels in set(_label_sets(gauge)) - fresh.keys():
            gauge.remove(*labels)
        for labels, value in fresh.items():
            gauge.labels(*labels).set(value)


def clear_gauges() -> None:
    """A worker that is not the leader shows no scores and no alerts: nothing counts twice."""
    for gauge in GAUGES.values():
        gauge.clear()
    ALERT_ACTIVE.clear()


def _label_sets(gauge: Gauge) -> list[tuple[str, ...]]:
    return [tuple(sample.labels[label] for label in LABELS)
            for metric in gauge.collect() for sample in metric.samples]
