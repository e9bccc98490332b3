"""Gauge grouping: bounded touchpoint labels, exact sums, stale label sets removed."""

from __future__ import annotations

from prometheus_client import generate_latest

from streams.reading import group, score_rows
from streams.scores import Followups
from streams.snapshots import GAUGES, gauge_groups, publish_gauges, top_touchpoints
from streams.stats import Stats

NONE = Followups(0, 0)
TOTALS = {
    ("acme", "web", "checkout"): (Stats(interactions=100, nps_n=4, nps_promoters=4), NONE),
    ("acme", "web", "search"): (Stats(interactions=50, nps_n=2, nps_detractors=2), NONE),
    ("acme", "web", "returns"): (Stats(interactions=1, nps_n=2, nps_detractors=1), NONE),
    ("acme", "chat", "returns"): (Stats(interactions=3), Followups(2, 1)),
}


def test_only_top_touchpoints_keep_their_name() -> None:
    keep = top_touchpoints(TOTALS, 2)
    assert keep == {"checkout", "search"}
    grouped = gauge_groups(TOTALS, keep)
    assert set(grouped) == {("acme", "web", "checkout"), ("acme", "web", "search"),
                            ("acme", "web", "other"), ("acme", "chat", "other"),
                            ("acme", "web", "*"), ("acme", "chat", "*"), ("acme", "*", "*")}
    assert grouped[("acme", "*", "*")] == group(TOTALS)[("acme", "*", "*")]
    assert grouped[("acme", "*", "*")][1] == Followups(2, 1)


def test_publish_sets_and_removes_label_sets() -> None:
    rows = score_rows(gauge_groups(TOTALS, {"checkout"}), end_ms=0, window_ms=3_600_000)
    publish_gauges(rows)
    text = generate_latest().decode()
    assert 'cx_nps{channel="web",tenant="acme",touchpoint="checkout",window="1h"} 100.0' in text
    assert 'cx_nps{channel="chat"' not in text, "no NPS data on chat: no sample"
    publish_gauges([row for row in rows if row["channel"] != "web"])
    text = generate_latest().decode()
    assert 'touchpoint="checkout"' not in text
    assert 'cx_interactions{channel="chat",tenant="acme",touchpoint="*",window="1h"} 3.0' in text
    for gauge in GAUGES.values():
        gauge.clear()
