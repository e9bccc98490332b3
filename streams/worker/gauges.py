"""Score gauges for Prometheus: one gauge per score, labelled by scope and window.

The label sets come from ``queries.snapshots`` (top-N touchpoints, ``other``,
rollups), so their number stays bounded however many scopes there are.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Gauge

from streams.core.scores import THEME_SHARES
from streams.core.stats import THEME_PREFIX

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
        "sentiment": "Mean sentiment of the comments, -1 (negative) .. 1 (positive)",
        "sentiment_n": "Comments enriched in the window",
        "negative_share": "Share of the comments labelled negative",
    }.items()}
THEME_LABELS = (*LABELS, "theme")
THEME_SHARE = Gauge("cx_theme_share", "Share of the comments naming the theme (built-in "
                    "themes only, so the labels stay bounded)", THEME_LABELS)


ALERT_LABELS = ("tenant", "channel", "touchpoint", "metric", "severity", "incident")
ALERT_ACTIVE = Gauge("cx_alert_active", "1 while a CX alert is open (score drop, silent channel, "
                     "follow-up backlog); the series goes when it resolves; incident is the id "
                     "of the incident it belongs to", ALERT_LABELS)


INCIDENT_LABELS = ("tenant", "incident", "channel", "touchpoint", "metric", "severity")
INCIDENT_ACTIVE = Gauge("cx_incident_active", "1 while a CX incident (alerts grouped by scope "
                        "and time) is open; metric is its primary signal's", INCIDENT_LABELS)
INFO_LABELS = ("tenant", "incident", "summary", "description")
INCIDENT_INFO = Gauge("cx_incident_info", "1 per open CX incident; its readable summary in the "
                      "labels (the CxIncident alert's annotations query it)", INFO_LABELS)


def show_alerts(open_labels: set[tuple[str, ...]]) -> None:
    """Set ``cx_alert_active`` to exactly these open alerts (``ALERT_LABELS`` values)."""
    _show(ALERT_ACTIVE, ALERT_LABELS, open_labels)


def show_incidents(open_labels: set[tuple[str, ...]], info: set[tuple[str, ...]]) -> None:
    """Set ``cx_incident_active`` to exactly these open incidents (``INCIDENT_LABELS``) and
    ``cx_incident_info`` to their summaries (``INFO_LABELS``): only open incidents, so the
    series stay as few as the problems at hand."""
    _show(INCIDENT_ACTIVE, INCIDENT_LABELS, open_labels)
    _show(INCIDENT_INFO, INFO_LABELS, info)


def _show(gauge: Gauge, names: tuple[str, ...], open_labels: set[tuple[str, ...]]) -> None:
    for labels in set(_label_sets(gauge, names)) - open_labels:
        gauge.remove(*labels)
    for labels in open_labels:
        gauge.labels(*labels).set(1)


def _refresh(gauge: Gauge, labels: tuple[str, ...], fresh: dict[tuple[str, ...], float]) -> None:
    for stale in set(_label_sets(gauge, labels)) - fresh.keys():
        gauge.remove(*stale)
    for values, value in fresh.items():
        gauge.labels(*values).set(value)


def publish_gauges(rows: list[Row]) -> None:
    """Set every gauge from fresh rows; label sets that vanished or have no data are removed."""
    for key, gauge in GAUGES.items():
        _refresh(gauge, LABELS, {tuple(row[label] for label in LABELS): row[key]
                                 for row in rows if row.get(key) is not None})
    _refresh(THEME_SHARE, THEME_LABELS, {
        (*(row[label] for label in LABELS), key.removeprefix(THEME_PREFIX)): row[key]
        for row in rows for key in THEME_SHARES if row.get(key) is not None})


def clear_gauges() -> None:
    """A worker that is not the leader shows no scores and no alerts: nothing counts twice."""
    for gauge in GAUGES.values():
        gauge.clear()
    THEME_SHARE.clear()
    ALERT_ACTIVE.clear()
    INCIDENT_ACTIVE.clear()
    INCIDENT_INFO.clear()


def _label_sets(gauge: Gauge, labels: tuple[str, ...] = LABELS) -> list[tuple[str, ...]]:
    return [tuple(sample.labels[label] for label in labels)
            for metric in gauge.collect() for sample in metric.samples]
