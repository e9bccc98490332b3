"""Score math against hand-checked values and against tests/support/reference.py (no services)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.scores import (
    Followups,
    followups_due,
    health,
    is_blind_spot,
    nps,
    parse_weights,
    scores,
    wilson,
    window_total,
)
from streams.core.stats import (
    MINUTE_MS,
    Stats,
    comment_stats,
    feedback_stats,
    followup_stats,
    interaction_stats,
    minute_of,
    needs_followup,
)
from tests.support.reference import DEADLINE_MS, Answer, Visit, reference_scores

HOUR = 3_600_000
END = 1_795_344_000_000  # a minute boundary


def test_nps_and_margin_by_hand() -> None:
    value, moe = nps(promoters=5, detractors=2, n=10)
    assert value == pytest.approx(30.0)
    assert moe == pytest.approx(1.96 * 100 * math.sqrt((0.5 + 0.2 - 0.09) / 10))
    assert nps(0, 0, 0) == (None, None)


def test_wilson_matches_published_values() -> None:
    low, high = wilson(8, 10)
    assert (round(low, 1), round(high, 1)) == (49.0, 94.3)
    assert wilson(0, 0) is None
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 100.0


def test_health_renormalises_missing_components() -> None:
    assert health({"nps": 50.0, "csat": None, "ces": 100.0}) == pytest.approx(75.0)
    assert health({"nps": 50.0, "ces": 100.0}, {"nps": 3, "ces": 1}) == pytest.approx(62.5)
    assert health({"nps": None}) is None
    assert parse_weights("nps=2, ces=0")["nps"] == 2 and parse_weights("")["csat"] == 1
    for bad in ("speed=1", "nps=x", "nps=-1"):
        with pytest.raises(ValueError):
            parse_weights(bad)


def test_followups_due_at_the_deadline_edge() -> None:
    edge = END - DEADLINE_MS
    exactly = followup_stats(edge, met=True)
    later = followup_stats(edge + 1, met=False)
    before = followup_stats(edge - 1, met=False)
    minutes = [(minute_of(edge), exactly + later), (minute_of(edge - 1), before)]
    assert followups_due(minutes, END, 7 * 24 * HOUR, DEADLINE_MS) == Followups(2, 1)
    assert followups_due(minutes, END + MINUTE_MS, 7 * 24 * HOUR, DEADLINE_MS) == Followups(3, 1)
    assert followups_due(minutes, END, 24 * HOUR, DEADLINE_MS) == Followups(0, 0)


def test_blind_spots() -> None:
    per_channel = {"web": Stats(interactions=10, nps_n=5), "chat": Stats(interactions=3),
                   "store": Stats()}
    assert sorted(channel for channel, stats in per_channel.items()
                  if is_blind_spot(stats.interactions, stats.feedback, min_answers=5)) == ["chat"]


surveys = st.sampled_from([("nps", 5), ("csat", 5), ("csat", 10), ("ces", 5)])


@st.composite
def traffic(draw: st.DrawFn) -> tuple[list[Answer], list[Visit]]:
    span = 9 * 24 * HOUR

    def moment() -> int:  # often exactly on a minute, where the deadline edge lies
        at = draw(st.integers(END - span, END + HOUR))
        return minute_of(at) if draw(st.booleans()) else at

    answers = []
    for _ in range(draw(st.integers(0, 40))):
        (survey, scale), at = draw(surveys), moment()
        top = {"nps": 10, "csat": scale, "ces": 7}[survey]
        score = draw(st.integers(0 if survey == "nps" else 1, top))
        delay = draw(st.one_of(st.none(), st.integers(0, DEADLINE_MS + HOUR),
                               st.just(DEADLINE_MS)))
        answers.append(Answer(at, survey, score, scale,
                              None if delay is None else at + delay))
    visits = [Visit(moment(), draw(st.booleans())) for _ in range(draw(st.integers(0, 40)))]
    return answers, visits


def minute_buckets(answers: list[Answer], visits: list[Visit]) -> list[tuple[int, Stats]]:
    buckets: dict[int, Stats] = {}
    for visit in visits:
        buckets.setdefault(minute_of(visit.at_ms), Stats()).__iadd__(
            interaction_stats("failure" if visit.failed else "success"))
    for a in answers:
        bucket = buckets.setdefault(minute_of(a.at_ms), Stats())
        bucket += feedback_stats(a.survey, a.score, a.scale)
        if needs_followup(a.survey, a.score, a.scale):
            met = a.followed_up_at_ms is not None and a.followed_up_at_ms <= a.at_ms + DEADLINE_MS
            bucket += followup_stats(a.at_ms, met)
    return list(buckets.items())


@settings(max_examples=300, deadline=None)
@given(traffic(), st.sampled_from([HOUR, 24 * HOUR, 48 * HOUR, 7 * 24 * HOUR]),
       st.integers(-3 * 24 * 60, 60).map(lambda m: END + m * MINUTE_MS))
def test_window_scores_equal_the_reference(data, window: int, end: int) -> None:
    answers, visits = data
    minutes = minute_buckets(answers, visits)
    got = scores(window_total(minutes, end, window),
                 followups_due(minutes, end, window, DEADLINE_MS))
    expected = reference_scores(answers, visits, end, window)
    for key, value in expected.items():
        if value is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(value, abs=1e-9), key


stats_values = st.builds(Stats, *[st.integers(0, 10**6)] * 16)


@given(stats_values, stats_values, stats_values)
def test_merging_is_associative_and_commutative(a: Stats, b: Stats, c: Stats) -> None:
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a
    assert a + Stats() == a


@given(st.lists(st.tuples(st.sampled_from(["web", "chat"]), st.sampled_from(["x", "y"]),
                          st.sampled_from(["nps", "ces"]), st.integers(1, 7)), max_size=50))
def test_rollups_equal_direct_computation(rows) -> None:
    per_scope: dict[tuple[str, str], Stats] = {}
    for channel, touchpoint, survey, score in rows:
        per_scope.setdefault((channel, touchpoint), Stats()).__iadd__(
            feedback_stats(survey, score, 5))
    rolled = sum(per_scope.values(), Stats())
    direct = sum((feedback_stats(survey, score, 5) for *_, survey, score in rows), Stats())
    assert rolled == direct
    assert scores(rolled, Followups(0, 0)) == scores(direct, Followups(0, 0))


def test_comment_scores_from_the_sums() -> None:
    from streams.core.scores import SCORE_KEYS, THEME_SHARES

    total = (comment_stats(-0.5, "negative", ("delivery",)) + comment_stats(0.25, "neutral", ())
             + comment_stats(1.0, "positive", ("delivery", "price"))
             + comment_stats(-0.75, "negative", ("returns",)))
    got = scores(total + Stats(interactions=3), Followups(0, 0))
    assert got["sentiment"] == pytest.approx(0.0) and got["sentiment_n"] == 4
    assert got["negative_share"] == pytest.approx(0.5)
    assert (got["theme_delivery"], got["theme_price"], got["theme_stock"]) == (0.5, 0.25, 0.0)
    assert set(THEME_SHARES) <= set(SCORE_KEYS) and "sentiment" in SCORE_KEYS
    empty = scores(Stats(interactions=3), Followups(0, 0))
    assert empty["sentiment"] is None and empty["sentiment_n"] == 0
    assert empty["negative_share"] is None and all(empty[key] is None for key in THEME_SHARES)
