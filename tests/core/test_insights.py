"""Comment facts and insight rows: exact thousandths, bounded themes, keys apart. No services."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.comments.labels import THEMES
from streams.core.facts import COMMENT_FACT_PREFIX, FACT_COLUMNS, Answer, comment_fact
from streams.core.insights import INSIGHT_COLUMNS, insight_row
from streams.core.stats import (
    COMMENT_THEMES,
    STAT_COLUMNS,
    Stats,
    comment_stats,
    sentiment_milli,
)

SCOPE = ("acme", "web", "checkout")
AT_MS = 1_795_344_321_987  # 10:45:21.987 UTC


def test_core_themes_are_the_built_in_themes() -> None:
    assert COMMENT_THEMES == THEMES
    assert [c for c in STAT_COLUMNS if c.startswith("theme_")] == [f"theme_{t}" for t in THEMES]


def test_sentiment_in_whole_thousandths_clamped() -> None:
    assert [sentiment_milli(x) for x in (-1.0, -0.4996, 0.0, 0.1235, 0.999, 1.7, -3.0)] == [
        -1000, -500, 0, 124, 999, 1000, -1000]


def test_comment_stats_count_built_in_themes_once_and_negative_by_label() -> None:
    stats = comment_stats(-0.42, "negative", ("delivery", "sizing", "delivery", "returns"))
    assert stats == Stats(comments=1, sentiment_sum=-420, sentiment_sum_sq=176_400,
                          comments_negative=1, theme_delivery=1, theme_returns=1)
    neutral = comment_stats(-0.2, "neutral", ())
    assert neutral.comments_negative == 0 and neutral.sentiment_sum == -200
    total = stats + neutral
    assert total.comments == 2 and total.sentiment_sum == -620


def test_comment_fact_never_shares_its_feedbacks_key() -> None:
    fact = comment_fact("fb-1", SCOPE, AT_MS, 0.5, "positive", ["price"])
    answer = Answer("fb-1", SCOPE, AT_MS, "nps", 9, 10)
    assert len(fact) == len(FACT_COLUMNS)
    assert fact[:5] == (*SCOPE, AT_MS // 60_000 * 60, COMMENT_FACT_PREFIX + "fb-1")
    assert fact[:4] == answer.fact(met=False)[:4] and fact[4] != answer.fact(met=False)[4]
    row = dict(zip(FACT_COLUMNS, fact, strict=True))
    assert (row["comments"], row["sentiment_sum"], row["theme_price"], row["nps_n"],
            row["followup_met"]) == (1, 500, 1, 0, 0)


@given(st.floats(min_value=-1, max_value=1, allow_nan=False))
def test_stored_sentiment_gives_back_the_facts_thousandths(sentiment: float) -> None:
    """What verify reads (a Float32 of the stored value) sums to what the fact summed."""
    import numpy as np

    row = dict(zip(INSIGHT_COLUMNS, insight_row(
        "e", SCOPE, AT_MS, "fr-FR", "trop cher", language="fr", sentiment=sentiment,
        label="negative", emotion="anger", themes=("price",), model_version="m",
        enriched_s=1), strict=True))
    stored = float(np.float32(row["sentiment"]))
    assert sentiment_milli(stored) == sentiment_milli(sentiment)


def test_insight_row_splits_the_time_and_keeps_the_text() -> None:
    row = dict(zip(INSIGHT_COLUMNS, insight_row(
        "e-1", SCOPE, AT_MS, "", "l'été \x00 😀", language="und", sentiment=0.1234,
        label="neutral", emotion="neutral", themes=("stock", "sizing"), model_version="v",
        enriched_s=99), strict=True))
    assert (row["occurred_at"], row["occurred_ms"]) == (AT_MS // 1000, 987)
    assert row["sentiment"] == pytest.approx(0.123) and row["themes"] == ["stock", "sizing"]
    assert row["comment"] == "l'été \x00 😀" and row["enriched_at"] == 99
