"""Training: folds keep every language's classes, the same corpus gives the same heads, and
the cross-validation it records is measured on comments each fold never saw."""

from __future__ import annotations

import numpy as np

from streams.comments.corpus import Labelled
from streams.comments.heads import Heads
from streams.comments.labels import EMOTIONS_BY_SENTIMENT, LANGUAGES, SENTIMENTS, THEMES
from streams.comments.train import RECIPE, _views, cross_validate, folds_of, train


def _corpus(n_per: int = 12, seed: int = 5) -> tuple[list[Labelled], dict[str, np.ndarray]]:
    """Comments whose vectors carry their sentiment and theme, with noise, in two views."""
    rng = np.random.default_rng(seed)
    items, rows = [], []
    centres = rng.normal(0, 1, (len(SENTIMENTS) + len(THEMES), 24))
    for language in ("en", "fr", "ar"):
        for s, sentiment in enumerate(SENTIMENTS):
            for i in range(n_per):
                theme = THEMES[i % 3]
                items.append(Labelled(f"{language} {sentiment} {i}", None, language, sentiment,
                                      EMOTIONS_BY_SENTIMENT[sentiment][i % 2], (theme,)))
                rows.append(centres[s] + centres[len(SENTIMENTS) + i % 3])
    base = np.asarray(rows)
    return items, {view: base + rng.normal(0, 0.3, base.shape) for view in _views()}


def test_folds_split_every_language_and_sentiment_evenly() -> None:
    items, _ = _corpus()
    folds = folds_of(items, 4)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(items)))
    for fold in folds:
        pairs = [(items[row].language, items[row].sentiment) for row in fold]
        for language in ("en", "fr", "ar"):
            for sentiment in SENTIMENTS:
                assert pairs.count((language, sentiment)) == 3  # 12 per stratum / 4 folds
    assert [f.tolist() for f in folds] == [f.tolist() for f in folds_of(items, 4)]


def test_cross_validation_scores_what_is_learnable() -> None:
    items, views = _corpus()
    scores, themes = cross_validate(items, views, folds=3)
    assert scores["sentiment"] > 0.9 and scores["themes_f1"] > 0.8 and scores["n"] == len(items)
    assert set(scores["sentiment_by_language"]) == {"en", "fr", "ar"} <= set(LANGUAGES)
    assert themes.shape == (len(items), len(THEMES))
    assert scores["emotion"] > 0.3  # two emotions per sentiment, unrelated to the vectors


def test_the_same_corpus_gives_the_same_heads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    items, views = _corpus()
    first, second = train(items, views, folds=3), train(items, views, folds=3)
    first.dump(tmp_path / "a.json")
    second.dump(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert isinstance(first, Heads) and first.view == RECIPE["view"]
    assert first.about["cross_validation"]["folds"] == 3
