"""Small linear heads over sentence vectors: the trained part of the model, stored as data.

Pure numpy, no I/O beyond reading and writing the JSON file: a head is a
weight matrix and a bias; ``softmax`` heads pick one label, ``sigmoid`` heads
(themes) keep every label above its own threshold. A head may have a lexical
partner over the comment's hashed words (``lexical``) whose logits are mixed into
its own; those weights are many, so they are stored quantised to 8 bits.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from streams.comments.labels import EMOTIONS_BY_SENTIMENT
from streams.comments.lexical import SparseRows, has_letter

HEADS_FILE: Final = Path(__file__).with_name("model") / "heads.json"
QUANTISED_ROWS: Final = 4096
"""Heads with more weight rows than this (the lexical ones) are stored as 8-bit integers
with one scale per label: a quarter of the size of rounded decimals, the same labels."""


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

    def logits(self, rows: np.ndarray | SparseRows) -> np.ndarray:
        return rows @ self.weights + self.bias

    def activate(self, logits: np.ndarray) -> np.ndarray:
        """Probabilities from logits: independent (sigmoid) or one of the labels (softmax)."""
        if self.multi_label:
            return 1.0 / (1.0 + np.exp(-logits.clip(-60, 60)))  # no overflow warning
        logits = logits - logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        return odds / odds.sum(axis=1, keepdims=True)

    def probabilities(self, rows: np.ndarray | SparseRows) -> np.ndarray:
        return self.activate(self.logits(rows))

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"labels": list(self.labels), "multi_label": self.multi_label,
                                "bias": np.round(self.bias, 6).tolist()}
        if len(self.weights) > QUANTISED_ROWS:
            scale = np.abs(self.weights).max(axis=0).clip(1e-12) / 127
            packed = np.round(self.weights / scale).astype(np.int8)
            data |= {"rows": len(self.weights), "scale": scale.tolist(),
                     "weights_q8": base64.b64encode(packed.tobytes()).decode()}
        else:
            data["weights"] = np.round(self.weights, 6).tolist()
        if self.thresholds is not None:
            data["thresholds"] = np.round(self.thresholds, 4).tolist()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Head:
        thresholds = data.get("thresholds")
        if "weights_q8" in data:
            packed = np.frombuffer(base64.b64decode(data["weights_q8"]), dtype=np.int8)
            weights = packed.reshape(data["rows"], -1) * np.asarray(data["scale"], np.float32)
        else:
            weights = np.asarray(data["weights"], dtype=np.float32)
        return cls(tuple(data["labels"]), weights.astype(np.float32),
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
    lexical: dict[str, Head] = field(default_factory=dict)
    """By head name: a head over the comments' hashed words (``lexical.SparseRows``)."""
    mix: dict[str, float] = field(default_factory=dict)
    """By head name: the share of the lexical head's logits in the mixed ones."""

    def read(self, vectors: np.ndarray, texts: Sequence[str]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sentiment, emotion and theme probabilities of each comment: its vector's, mixed
        with its words' where there is a lexical head and the comment has a letter (the
        encoder alone reads emoji: few were in the lexical heads' training)."""
        words = None
        worded = np.array([has_letter(text) for text in texts], dtype=bool).reshape(-1, 1)
        out = []
        for name, head in (("sentiment", self.sentiment), ("emotion", self.emotion),
                           ("themes", self.themes)):
            logits = head.logits(vectors)
            if name in self.lexical:
                lexical = self.lexical[name]
                if words is None:
                    words = SparseRows(texts, len(lexical.weights))
                share = self.mix[name] * worded
                logits = (1 - share) * logits + share * lexical.logits(words)
            out.append(head.activate(logits))
        return out[0], out[1], out[2]

    def dump(self, path: Path = HEADS_FILE) -> None:
        data = {"about": self.about, "view": self.view, "sentiment": self.sentiment.as_json(),
                "emotion": self.emotion.as_json(), "themes": self.themes.as_json()}
        if self.lexical:
            data["lexical"] = {name: {"mix": self.mix[name], **head.as_json()}
                               for name, head in self.lexical.items()}
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
    lexical = data.get("lexical", {})
    return Heads(Head.from_json(data["sentiment"]), Head.from_json(data["emotion"]),
                 Head.from_json(data["themes"]), data.get("about", {}), data.get("view", "query"),
                 {name: Head.from_json(head) for name, head in lexical.items()},
                 {name: float(head["mix"]) for name, head in lexical.items()})


def fit(vectors: np.ndarray | SparseRows, targets: np.ndarray, *, multi_label: bool,
        l2: float = 1e-3, steps: int = 600, rate: float = 0.05, seed: int = 7,
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
