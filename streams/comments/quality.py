"""Accuracy and F1 of the classifier on a labelled set, per language (pure arithmetic).

``cxpulse comments report`` prints this for ``data/testset.jsonl``; the tests
assert the issue's floors on the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from streams.comments.corpus import Labelled
from streams.comments.labels import EMOTIONS, SENTIMENTS, THEMES, Insight


@dataclass(frozen=True, slots=True)
class Quality:
    """How one slice of the set was labelled."""

    n: int
    sentiment_accuracy: float
    sentiment_macro_f1: float
    emotion_accuracy: float
    emotion_macro_f1: float
    themes_f1: float
    """Micro-averaged over every (comment, theme) decision."""
    language_accuracy: float


def _f1(tp: int, predicted: int, actual: int) -> float:
    return 2 * tp / (predicted + actual) if predicted + actual else 1.0


def macro_f1(truth: Sequence[str], guess: Sequence[str], labels: Sequence[str]) -> float:
    """Mean F1 over the labels present in the truth or the guesses."""
    scores = []
    for label in labels:
        actual = sum(t == label for t in truth)
        predicted = sum(g == label for g in guess)
        if actual or predicted:
            tp = sum(t == g == label for t, g in zip(truth, guess, strict=True))
            scores.append(_f1(tp, predicted, actual))
    return sum(scores) / len(scores) if scores else 1.0


def quality(items: Sequence[Labelled], insights: Sequence[Insight]) -> Quality:
    n = len(items)
    if n == 0:
        raise ValueError("no labelled comments to measure")
    truth_s = [i.sentiment for i in items]
    guess_s = [g.label for g in insights]
    truth_e = [i.emotion for i in items]
    guess_e = [g.emotion for g in insights]
    tp = predicted = actual = 0
    for item, insight in zip(items, insights, strict=True):
        # configured extra themes are not in the labelled set: only built-ins are judged
        truth, guess = set(item.themes), set(insight.themes) & set(THEMES)
        tp += len(truth & guess)
        predicted += len(guess)
        actual += len(truth)
    return Quality(
        n=n,
        sentiment_accuracy=sum(t == g for t, g in zip(truth_s, guess_s, strict=True)) / n,
        sentiment_macro_f1=macro_f1(truth_s, guess_s, SENTIMENTS),
        emotion_accuracy=sum(t == g for t, g in zip(truth_e, guess_e, strict=True)) / n,
        emotion_macro_f1=macro_f1(truth_e, guess_e, EMOTIONS),
        themes_f1=_f1(tp, predicted, actual),
        language_accuracy=sum(i.language == g.language
                              for i, g in zip(items, insights, strict=True)) / n)


def report(items: Sequence[Labelled], insights: Sequence[Insight]) -> dict[str, Quality]:
    """Quality per language, and ``all``."""
    by_language: dict[str, list[int]] = {}
    for row, item in enumerate(items):
        by_language.setdefault(item.language, []).append(row)
    out = {language: quality([items[r] for r in rows], [insights[r] for r in rows])
           for language, rows in sorted(by_language.items())}
    out["all"] = quality(items, insights)
    return out


def format_report(rows: dict[str, Quality]) -> str:
    header = (f"{'language':<9}{'n':>5}  {'sentiment':>9} {'macro-F1':>8}  {'emotion':>7} "
              f"{'macro-F1':>8}  {'themes F1':>9}  {'language':>8}")
    lines = [header]
    for name, q in rows.items():
        lines.append(f"{name:<9}{q.n:>5}  {q.sentiment_accuracy:>9.3f} {q.sentiment_macro_f1:>8.3f}"
                     f"  {q.emotion_accuracy:>7.3f} {q.emotion_macro_f1:>8.3f}  "
                     f"{q.themes_f1:>9.3f}  {q.language_accuracy:>8.3f}")
    return "\n".join(lines)
