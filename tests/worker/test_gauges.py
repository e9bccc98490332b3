"""Score gauges: label sets are set from fresh rows and removed when they vanish."""

from __future__ import annotations

from prometheus_client import generate_latest

from streams.core.scores import Followups
from streams.core.stats import Stats
from streams.queries.windows import score_rows
from streams.worker.gauges import GAUGES, publish_gauges

CHECKOUT_WEB = Stats(interactions=100, nps_n=4, nps_promoters=4)
RETURNS_CHAT = Stats(interactions=3, ces_n=1, ces_sum=5, ces_sum_sq=25)


def test_publish_sets_and_removes_label_sets() -> None:
    totals = {("acme", "web", "checkout"): (CHECKOUT_WEB, Followups(0, 0)),
              ("acme", "chat", "*"): (RETURNS_CHAT, Followups(2, 1))}
    rows = score_rows(totals, end_ms=0, window_ms=3_600_000)
    publish_gauges(rows)
    text = generate_latest().decode()
    assert 'cx_nps{channel="web",tenant="acme",touchpoint="checkout",window="1h"} 100.0' in text
    assert 'cx_nps{channel="chat"' not in text, "no NPS data on chat: no sample"
    assert 'cx_followup_overdue{channel="chat",tenant="acme",touchpoint="*",window="1h"} 1.0' \
        in text
    publish_gauges([row for row in rows if row["channel"] != "web"])
    text = generate_latest().decode()
    assert 'touchpoint="checkout"' not in text
    for gauge in GAUGES.values():
        gauge.clear()


def test_comment_gauges_with_a_bounded_theme_label() -> None:
    from streams.core.stats import comment_stats
    from streams.worker.gauges import THEME_SHARE

    talk = (comment_stats(-0.5, "negative", ("delivery", "sizing"))
            + comment_stats(0.25, "positive", ("price",)))
    totals = {("acme", "web", "*"): (CHECKOUT_WEB + talk, Followups(0, 0)),
              ("acme", "chat", "*"): (RETURNS_CHAT, Followups(0, 0))}
    publish_gauges(score_rows(totals, end_ms=0, window_ms=3_600_000))
    text = generate_latest().decode()
    web = 'channel="web",tenant="acme",touchpoint="*",window="1h"'
    assert f"cx_sentiment{{{web}}} -0.125" in text
    assert f"cx_sentiment_n{{{web}}} 2.0" in text
    assert f"cx_negative_share{{{web}}} 0.5" in text
    assert ('cx_theme_share{channel="web",tenant="acme",theme="delivery",touchpoint="*",'
            'window="1h"} 0.5') in text
    assert 'theme="stock"' in text and 'theme="sizing"' not in text
    assert 'cx_sentiment{channel="chat"' not in text, "no comments on chat: no sample"
    publish_gauges([])
    assert "cx_theme_share{" not in generate_latest().decode()
    for gauge in (*GAUGES.values(), THEME_SHARE):
        gauge.clear()


def test_incident_gauge_shows_exactly_the_open_incidents() -> None:
    from streams.worker.gauges import (
        INCIDENT_ACTIVE,
        INCIDENT_INFO,
        clear_gauges,
        show_incidents,
    )

    first = ("acme", "abc123", "app", "*", "failure_rate", "critical")
    second = ("globex", "def456", "*", "*", "nps", "warning")
    about = ("acme", "abc123", 'acme: checkout explains 92% of the rise, since "08:00"',
             "What: ...\nSays: ...")
    show_incidents({first, second}, {about})
    text = generate_latest().decode()
    assert ('cx_incident_active{channel="app",incident="abc123",metric="failure_rate",'
            'severity="critical",tenant="acme",touchpoint="*"} 1.0') in text
    assert ('cx_incident_info{description="What: ...\\nSays: ...",incident="abc123",'
            'summary="acme: checkout explains 92% of the rise, since \\"08:00\\"",'
            'tenant="acme"} 1.0') in text
    grown = (*about[:2], "acme: grown", "What: more")
    show_incidents({second}, {grown})
    text = generate_latest().decode()
    assert 'incident="abc123"' not in text.split("cx_incident_info")[0]
    assert 'incident="def456"' in text
    assert text.count("cx_incident_info{") == 1 and 'summary="acme: grown"' in text
    clear_gauges()
    assert not list(INCIDENT_ACTIVE.collect()[0].samples)
    assert not list(INCIDENT_INFO.collect()[0].samples)
