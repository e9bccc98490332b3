"""Accuracy and F1 of the classifier on a labelled set, per language and per class, with
confusion matrices (pure arithmetic).

``cxpulse comments report`` prints this for the default set (``corpus.default_sets``)
or the files it is given; the tests assert the issue's floors on the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class ClassScore:
    """How one label fared: of the comments guessed ``label``, the share that are
    (precision); of those that are, the share guessed (recall); ``support``: how many are."""

    precision: float
    recall: float
    f1: float
    support: int
    guessed: int


def _f1(tp: int, predicted: int, actual: int) -> float:
    return 2 * tp / (predicted + actual) if predicted + actual else 1.0


def _score(tp: int, predicted: int, actual: int) -> ClassScore:
    return ClassScore(tp / predicted if predicted else 0.0, tp / actual if actual else 0.0,
                      _f1(tp, predicted, actual), actual, predicted)


def per_class(truth: Sequence[str], guess: Sequence[str],
              labels: Sequence[str]) -> dict[str, ClassScore]:
    """Every label present in the truth or the guesses, in ``labels`` order."""
    out = {}
    for label in labels:
        actual = sum(t == label for t in truth)
        predicted = sum(g == label for g in guess)
        if actual or predicted:
            tp = sum(t == g == label for t, g in zip(truth, guess, strict=True))
            out[label] = _score(tp, predicted, actual)
    return out


def macro_f1(truth: Sequence[str], guess: Sequence[str], labels: Sequence[str]) -> float:
    """Mean F1 over the labels present in the truth or the guesses."""
    scores = [score.f1 for score in per_class(truth, guess, labels).values()]
    return sum(scores) / len(scores) if scores else 1.0


def per_theme(items: Sequence[Labelled], insights: Sequence[Insight]) -> dict[str, ClassScore]:
    """Each built-in theme as a yes/no decision on every comment."""
    out = {}
    for theme in THEMES:
        actual = sum(theme in item.themes for item in items)
        predicted = sum(theme in insight.themes for insight in insights)
        if actual or predicted:
            tp = sum(theme in item.themes and theme in insight.themes
                     for item, insight in zip(items, insights, strict=True))
            out[theme] = _score(tp, predicted, actual)
    return out


def confusion(truth: Sequence[str], guess: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Counts, a row per true label and a column per guessed one, in ``labels`` order."""
    matrix = [[0] * len(labels) for _ in labels]
    for t, g in zip(truth, guess, strict=True):
        matrix[labels.index(t)][labels.index(g)] += 1
    return matrix


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


def _rows_by_language(items: Sequence[Labelled]) -> dict[str, list[int]]:
    by_language: dict[str, list[int]] = {}
    for row, item in enumerate(items):
        by_language.setdefault(item.language, []).append(row)
    return {**dict(sorted(by_language.items())), "all": list(range(len(items)))}


def _classes(scores: dict[str, ClassScore]) -> dict[str, dict[str, float | int]]:
    return {label: {"precision": round(s.precision, 3), "recall": round(s.recall, 3),
                    "f1": round(s.f1, 3), "support": s.support, "guessed": s.guessed}
            for label, s in scores.items()}


def detailed_report(items: Sequence[Labelled], insights: Sequence[Insight]) -> dict[str, Any]:
    """Everything ``cxpulse comments report`` shows, JSON-ready: the per-language summary,
    per-class precision/recall/F1 and confusion matrices (rows: truth, columns: guess) of
    sentiment and emotion per language and in ``all``, and per-theme scores."""
    out: dict[str, Any] = {"languages": {name: {key: round(value, 3) if isinstance(value, float)
                                                else value for key, value in asdict(q).items()}
                                         for name, q in report(items, insights).items()}}
    for task, labels, truth_of, guess_of in (
            ("sentiment", SENTIMENTS, lambda i: i.sentiment, lambda g: g.label),
            ("emotion", EMOTIONS, lambda i: i.emotion, lambda g: g.emotion)):
        classes, matrices = {}, {}
        for name, rows in _rows_by_language(items).items():
            truth = [truth_of(items[r]) for r in rows]
            guess = [guess_of(insights[r]) for r in rows]
            classes[name] = _classes(per_class(truth, guess, labels))
            matrices[name] = confusion(truth, guess, labels)
        out[task] = {"labels": list(labels), "classes": classes, "confusion": matrices}
    out["themes"] = {"classes": _classes(per_theme(items, insights))}
    return out


def _class_table(title: str, classes: dict[str, dict[str, float | int]]) -> list[str]:
    lines = [f"{title:<18}{'precision':>9} {'recall':>7} {'F1':>6} {'n':>5} {'guessed':>8}"]
    lines += [f"  {label:<16}{s['precision']:>9.3f} {s['recall']:>7.3f} {s['f1']:>6.3f} "
              f"{s['support']:>5} {s['guessed']:>8}" for label, s in classes.items()]
    return lines


def _matrix(title: str, labels: Sequence[str], matrix: list[list[int]]) -> list[str]:
    width = max(6, *(min(len(label), 8) + 1 for label in labels))
    lines = [f"{title} (rows: truth, columns: guess)",
             " " * 16 + "".join(f"{label[:8]:>{width}}" for label in labels)]
    lines += [f"  {label:<14}" + "".join(f"{count:>{width}}" for count in row)
              for label, row in zip(labels, matrix, strict=True)]
    return lines


def format_detailed(data: dict[str, Any]) -> str:
    """The report as text: summary, sentiment per language and class, emotion and themes per
    class, and the two confusion matrices over the whole set."""
    rows = {name: Quality(**q) for name, q in data["languages"].items()}
    lines = [format_report(rows), "", "sentiment per language and class: precision/recall/F1"]
    sentiments = data["sentiment"]["labels"]
    lines.append(f"{'language':<9}" + "".join(f"{label:>21}" for label in sentiments))
    for name, classes in data["sentiment"]["classes"].items():
        cells = [classes.get(label) for label in sentiments]
        lines.append(f"{name:<9}" + "".join(
            f"{'-':>21}" if c is None else
            f"{c['precision']:>9.2f}/{c['recall']:.2f}/{c['f1']:.2f}" for c in cells))
    lines += ["", *_class_table("emotion (all)", data["emotion"]["classes"]["all"]), "",
              *_class_table("themes (all)", data["themes"]["classes"]), "",
              *_matrix("sentiment confusion (all)", sentiments,
                       data["sentiment"]["confusion"]["all"]), "",
              *_matrix("emotion confusion (all)", data["emotion"]["labels"],
                       data["emotion"]["confusion"]["all"])]
    return "\n".join(lines)
