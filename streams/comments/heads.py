"""Small linear heads over sentence vectors: the trained part of the model, stored as data.

Pure numpy, no I/O beyond reading and writing the JSON file: a head is a
weight matrix and a bias; ``softmax`` heads pick one label, ``sigmoid`` heads
(themes) keep every label above its own threshold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from streams.comments.labels import EMOTIONS_BY_SENTIMENT

HEADS_FILE: Final = Path(__file__).with_name("model") / "heads.json"


@dataclass(frozen=True)
class Head:
    """One linear classifier over the encoder's vectors."""

    labels: tuple[str, ...]
    weights: np.ndarray
    """(dim, len(labels))."""
    bias: np.ndarray
    multi_label: bool = False
    thresholds: np.ndarray | None = None
    """Per label, for multi-label heads: the probability at which a label is kept."""

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.weights + self.bias
        if self.multi_label:
            return 1.0 / (1.0 + np.exp(-logits))
        logits = logits - logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        return odds / odds.sum(axis=1, keepdims=True)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"labels": list(self.labels), "multi_label": self.multi_label,
                                "weights": np.round(self.weights, 6).tolist(),
                                "bias": np.round(self.bias, 6).tolist()}
        if self.thresholds is not None:
            data["thresholds"] = np.round(self.thresholds, 4).tolist()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Head:
        thresholds = data.get("thresholds")
        return cls(tuple(data["labels"]), np.asarray(data["weights"], dtype=np.float32),
                   np.asarray(data["bias"], dtype=np.float32), bool(data["multi_label"]),
                   None if thresholds is None else np.asarray(thresholds, dtype=np.float32))


@dataclass(frozen=True)
class Heads:
    """The sentiment, emotion and theme heads, and how they were made."""

    sentiment: Head
    emotion: Head
    themes: Head
    about: dict[str, Any] = field(default_factory=dict)
    view: str = "query"
    """The encoder prefix the heads read (``encoder.VIEWS``): vectors of the other one differ."""

    def dump(self, path: Path = HEADS_FILE) -> None:
        data = {"about": self.about, "view": self.view, "sentiment": self.sentiment.as_json(),
                "emotion": self.emotion.as_json(), "themes": self.themes.as_json()}
        path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")


def read_emotions(sentiment: np.ndarray, emotion: np.ndarray,
                  sentiments: Sequence[str], emotions: Sequence[str]) -> np.ndarray:
    """Each row's emotion index, weighing every emotion by the probability of the
    sentiments that carry it: no "positive, anger" pair, and a surer emotion where the
    sentiment head is sure (+0.5 points in cross-validation on the passage view)."""
    carried = np.array([[e in EMOTIONS_BY_SENTIMENT[s] for e in emotions] for s in sentiments],
                       dtype=np.float32)
    return (emotion * (sentiment @ carried)).argmax(axis=1)


def load_heads(path: Path = HEADS_FILE) -> Heads:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"comment model heads missing: {path} (train them with "
                                "`python -m streams.comments.train`)") from None
    return Heads(Head.from_json(data["sentiment"]), Head.from_json(data["emotion"]),
                 Head.from_json(data["themes"]), data.get("about", {}), data.get("view", "query"))


def fit(vectors: np.ndarray, targets: np.ndarray, *, multi_label: bool, l2: float = 1e-3,
        steps: int = 600, rate: float = 0.05, seed: int = 7,
        balance: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Weights and bias of a linear head, by full-batch Adam on cross-entropy plus L2.

    ``targets`` is (n, k) of 0/1. Classes are weighted by inverse frequency to the
    power ``balance`` (1: every class weighs the same in the loss, 0: every comment
    does) so a rare label (neutral, confusion) is not drowned by the common ones.
    """
    n, dim = vectors.shape
    k = targets.shape[1]
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 0.01, (dim, k)).astype(np.float64)
    bias = np.zeros(k)
    positives = targets.sum(axis=0).clip(1)
    if multi_label:
        pos_weight = ((n - positives) / positives).clip(1, 10) ** 0.5
        sample = targets * pos_weight + (1 - targets)
    else:
        class_weight = (n / (k * positives)) ** balance
        sample = (targets * class_weight).sum(axis=1, keepdims=True)
    moments = [np.zeros_like(weights), np.zeros_like(bias)]
    squares = [np.zeros_like(weights), np.zeros_like(bias)]
    head = Head(tuple(map(str, range(k))), weights, bias, multi_label)
    for step in range(1, steps + 1):
        head = Head(head.labels, weights, bias, multi_label)
        error = (head.probabilities(vectors) - targets) * sample / n
        grads = [vectors.T @ error + l2 * weights, error.sum(axis=0)]
        for i, (param, grad) in enumerate(zip((weights, bias), grads, strict=True)):
            moments[i] = 0.9 * moments[i] + 0.1 * grad
            squares[i] = 0.999 * squares[i] + 0.001 * grad * grad
            param -= rate * (moments[i] / (1 - 0.9 ** step)) / (
                np.sqrt(squares[i] / (1 - 0.999 ** step)) + 1e-8)
    return weights, bias
