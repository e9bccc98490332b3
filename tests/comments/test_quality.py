"""The report's arithmetic on hand-made cases."""

import pytest

from streams.comments.corpus import Labelled
from streams.comments.labels import Insight
from streams.comments.quality import macro_f1, quality, report


def _item(language: str, sentiment: str, themes: tuple[str, ...] = ()) -> Labelled:
    return Labelled("x", None, language, sentiment, "neutral", themes)


def _guess(language: str, label: str, themes: tuple[str, ...] = ()) -> Insight:
    return Insight(language, 0.0, label, "neutral", themes)


def test_macro_f1_weighs_labels_equally() -> None:
    truth = ["negative"] * 8 + ["positive"] * 2
    guess = ["negative"] * 10
    # negative: P 0.8, R 1 -> F1 8/9; positive: F1 0
    assert macro_f1(truth, guess, ("negative", "neutral", "positive")) == pytest.approx(4 / 9)


def test_quality_counts_sentiment_themes_and_language() -> None:
    items = [_item("fr", "negative", ("delivery",)), _item("fr", "positive", ("price",)),
             _item("de", "neutral")]
    guesses = [_guess("fr", "negative", ("delivery", "stock")), _guess("fr", "negative"),
               _guess("en", "neutral", ("custom_theme",))]
    q = quality(items, guesses)
    assert q.sentiment_accuracy == pytest.approx(2 / 3)
    assert q.themes_f1 == pytest.approx(2 * 1 / (2 + 2))  # custom themes are not judged
    assert q.language_accuracy == pytest.approx(2 / 3)
    rows = report(items, guesses)
    assert list(rows) == ["de", "fr", "all"] and rows["fr"].n == 2


def test_empty_set_is_an_error() -> None:
    with pytest.raises(ValueError, match="no labelled"):
        quality([], [])
