"""The report's arithmetic on hand-made cases."""

import json
from pathlib import Path

import pytest

from streams.comments import corpus
from streams.comments.corpus import Labelled
from streams.comments.labels import EMOTIONS, SENTIMENTS, Insight
from streams.comments.quality import (
    ClassScore,
    confusion,
    detailed_report,
    format_detailed,
    macro_f1,
    per_class,
    quality,
    report,
)


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


def test_per_class_scores_and_confusion_count_each_label() -> None:
    truth = ["negative", "negative", "neutral", "positive"]
    guess = ["negative", "neutral", "negative", "positive"]
    classes = per_class(truth, guess, SENTIMENTS)
    assert classes["negative"] == ClassScore(0.5, 0.5, 0.5, 2, 2)
    assert classes["neutral"] == ClassScore(0.0, 0.0, 0.0, 1, 1)
    assert classes["positive"].f1 == 1.0
    assert confusion(truth, guess, SENTIMENTS) == [[1, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert "confusion" not in per_class(truth, guess, ("confusion", *SENTIMENTS))  # absent


def test_detailed_report_slices_by_language_and_renders() -> None:
    items = [_item("fr", "negative", ("delivery",)), _item("fr", "positive", ("price",)),
             _item("de", "neutral")]
    guesses = [_guess("fr", "negative", ("delivery", "stock")), _guess("fr", "negative"),
               _guess("de", "neutral")]
    data = detailed_report(items, guesses)
    assert list(data["languages"]) == ["de", "fr", "all"]
    assert data["sentiment"]["confusion"]["fr"] == [[1, 0, 0], [0, 0, 0], [1, 0, 0]]
    assert data["sentiment"]["classes"]["fr"]["negative"] == {
        "precision": 0.5, "recall": 1.0, "f1": 0.667, "support": 1, "guessed": 2}
    assert data["emotion"]["confusion"]["all"][EMOTIONS.index("neutral")] == [0, 0, 0, 0, 3,
                                                                              0, 0]
    assert data["themes"]["classes"]["delivery"]["f1"] == 1.0
    assert data["themes"]["classes"]["stock"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                                  "support": 0, "guessed": 1}
    assert json.loads(json.dumps(data)) == data
    text = format_detailed(data)
    assert "sentiment confusion (all)" in text and "emotion confusion (all)" in text
    assert "   0.50/1.00/0.67" in text.split("sentiment per language")[1].splitlines()[3]


def test_the_fresh_set_is_the_default_when_present(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "FRESH_FILE", tmp_path / "freshset.jsonl")
    assert corpus.default_set() == corpus.TEST_FILE
    (tmp_path / "freshset.jsonl").write_text("")
    assert corpus.default_set() == tmp_path / "freshset.jsonl"
