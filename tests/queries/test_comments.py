"""Comment insights stored exactly once per event, comment minutes exact, listings filtered.

Insights here are made up from each event (no model): what is tested is storage,
idempotence under duplicates, replays and re-enrichment, and the scores read back.
The expected statistics are computed from the event list itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from streams.comments.enrichment import Enriched
from streams.comments.labels import THEMES, Insight
from streams.core.contract import parse_timestamp
from streams.core.stats import Stats, comment_stats, minute_of
from streams.queries.comments import recent_comments, store_insights
from streams.queries.scoring import rewrite_minutes
from streams.queries.verify import differences, stored_minutes
from streams.queries.windows import window_scores
from streams.tools.generate import TrafficSpec, generate
from streams.tools.load import load
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.databases import OwnDatabase

pytestmark = pytest.mark.integration

DEADLINE_MS = 48 * 3_600_000
NOW_S = int(time.time()) // 60 * 60
NASTY = "'); DROP TABLE comment_insights; -- \\' \" \x00 \t l'été مرحبا 😀"


@pytest.fixture
def own(warehouse: Warehouse) -> Iterator[Warehouse]:
    database = OwnDatabase(warehouse, "comments")
    try:
        migrate(database)
        yield database
    finally:
        database.close()


def made_up(event: dict, version: int = 1) -> Insight:
    """A deterministic insight per event; ``version`` 2 is what a newer model says."""
    code = sum(map(ord, event["event_id"])) + 7 * version
    sentiment = ((code % 2001) - 1000) / 1000
    label = "negative" if sentiment < -0.3 else "positive" if sentiment > 0.3 else "neutral"
    themes = tuple(theme for i, theme in enumerate(THEMES) if (code >> i) % 3 == 0)
    return Insight("en", sentiment, label, "anger" if label == "negative" else "neutral",
                   (*themes, "sizing") if code % 5 == 0 else themes)


def enriched(event: dict, version: int = 1) -> Enriched:
    at_ms = parse_timestamp(event["occurred_at"])[0]
    return Enriched(event["event_id"], (event["tenant"], event["channel"],
                                        event.get("touchpoint", "unspecified")),
                    at_ms, event.get("locale", ""), event["comment"], made_up(event, version))


def traffic() -> tuple[list[dict], list[dict]]:
    spec = TrafficSpec(seed=21, start=NOW_S - 6 * 3600, duration=6 * 3600 - 120, rate=0.3)
    events = list(generate(spec))
    commented = [e for e in events if e["type"] == "feedback" and e.get("comment")]
    commented[0]["comment"] = NASTY
    return events, commented


def expected_comment_minutes(items: list[Enriched]) -> dict[tuple, Stats]:
    minutes: dict[tuple, Stats] = {}
    for item in items:
        key = (*item.scope, minute_of(item.occurred_ms) // 1000)
        minutes[key] = minutes.get(key, Stats()) + comment_stats(
            item.insight.sentiment, item.insight.label, item.insight.themes)
    return minutes


def comment_part(stats: Stats) -> Stats:
    return Stats(**{name: value for name, value in stats.as_dict().items()
                    if name == "comments" or name.startswith(("sentiment", "comments_", "theme_"))})


def store(warehouse: Warehouse, items: list[Enriched], version: str, now_s: int) -> None:
    rewrite_minutes(warehouse, store_insights(warehouse, items, version, now_s))


def test_duplicates_batches_replays_and_reenrichment_converge(own: Warehouse) -> None:
    events, commented = traffic()
    assert len(commented) > 40
    load(own, events, deadline_ms=DEADLINE_MS)
    first = [enriched(e) for e in commented]
    half = len(first) // 2
    store(own, first[:half], "m1", NOW_S)
    store(own, first[half - 5:] + first[:3], "m1", NOW_S)   # overlapping batch, in-batch dup
    store(own, first, "m1", NOW_S + 1)                       # a replay of everything
    # A newer model re-enriches a third of the events; a stale replay of the old insights
    # written after it, but with an older enriched_at (another worker's clock), must lose.
    newer = [enriched(e, version=2) for e in commented[::3]]
    store(own, newer, "m2", NOW_S + 60)
    store(own, first[::2], "m1", NOW_S + 30)
    final = {item.event_id: item for item in first} | {item.event_id: item for item in newer}

    rows = own.query(f"SELECT event_id, model_version, sentiment, themes, comment "
                     f"FROM {own.database}.comment_insights FINAL")
    assert len(rows) == len(final)
    by_id = {row["event_id"]: row for row in rows}
    assert by_id[commented[0]["event_id"]]["comment"] == NASTY
    for event_id, item in final.items():
        assert by_id[event_id]["model_version"] == ("m2" if item in newer else "m1")
        assert round(float(by_id[event_id]["sentiment"]), 3) == item.insight.sentiment
        assert list(by_id[event_id]["themes"]) == list(item.insight.themes)

    want = expected_comment_minutes(list(final.values()))
    have = {key: comment_part(stats) for key, stats in stored_minutes(own).items()
            if stats.comments}
    assert have == want
    facts = own.query(f"SELECT count() AS n FROM {own.database}.score_facts FINAL "
                      "WHERE startsWith(event_id, 'comment:')")
    assert int(facts[0]["n"]) == len(final)
    assert differences(own, DEADLINE_MS) == []


def test_scores_carry_sentiment_and_theme_shares(own: Warehouse) -> None:
    events, commented = traffic()
    load(own, events, deadline_ms=DEADLINE_MS)
    items = [enriched(e) for e in commented]
    store(own, items, "m1", NOW_S)
    store(own, items[:10], "m1", NOW_S)  # a duplicate changes nothing
    tenant = commented[0]["tenant"]
    mine = [i for i in items if i.scope[0] == tenant]
    rows = window_scores(own, end_ms=NOW_S * 1000, window_ms=24 * 3_600_000,
                         deadline_ms=DEADLINE_MS, tenant=tenant)
    rollup = next(row for row in rows if row["channel"] == "*" and row["touchpoint"] == "*")
    n = len(mine)
    assert rollup["sentiment_n"] == n
    assert rollup["sentiment"] == pytest.approx(sum(i.insight.sentiment for i in mine) / n)
    assert rollup["negative_share"] == pytest.approx(
        sum(i.insight.label == "negative" for i in mine) / n)
    for theme in THEMES:
        assert rollup[f"theme_{theme}"] == pytest.approx(
            sum(theme in i.insight.themes for i in mine) / n)
    assert "theme_sizing" not in rollup, "configured themes have no counter"
    quiet = window_scores(own, end_ms=(NOW_S - 6 * 3600) * 1000, window_ms=3_600_000,
                          deadline_ms=DEADLINE_MS, tenant=tenant)
    assert all(row["sentiment"] is None and row["sentiment_n"] == 0 for row in quiet)


def test_recent_comments_filters_newest_first(own: Warehouse) -> None:
    _, commented = traffic()
    items = [enriched(e) for e in commented]
    store_insights(own, items, "m1", NOW_S)
    everything = recent_comments(own, limit=10_000)
    assert len(everything) == len(items)
    times = [row["occurred_at"] for row in everything]
    assert times == sorted(times, reverse=True)
    assert any(row["comment"] == NASTY for row in everything)
    assert set(everything[0]) >= {"event_id", "tenant", "channel", "touchpoint", "comment",
                                  "language", "sentiment", "label", "emotion", "themes",
                                  "occurred_at", "enriched_at", "model_version"}
    tenant, channel = items[0].scope[:2]
    picked = recent_comments(own, tenant=tenant, channel=channel, sentiment="negative",
                             theme="delivery", limit=10_000)
    assert picked == [row for row in everything if row["tenant"] == tenant
                      and row["channel"] == channel and row["label"] == "negative"
                      and "delivery" in row["themes"]]
    assert recent_comments(own, theme="sizing", limit=10_000) == [
        row for row in everything if "sizing" in row["themes"]]
    assert len(recent_comments(own, limit=3)) == 3
    since = recent_comments(own, since_s=NOW_S - 3600, limit=10_000)
    assert since == [row for row in everything
                     if parse_timestamp(row["occurred_at"])[0] >= (NOW_S - 3600) * 1000]
    assert recent_comments(own, tenant="x' OR 1=1 --") == []
    with pytest.raises(ValueError, match="sentiment"):
        recent_comments(own, sentiment="angry")
