"""The labelled comment sets in ``data/``: reading and checking them (pure, small)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from streams.comments.labels import EMOTIONS, LANGUAGES, SENTIMENTS, THEMES

DATA: Final = Path(__file__).with_name("data")
TRAIN_FILE: Final = DATA / "train.jsonl"
TEST_FILE: Final = DATA / "testset.jsonl"
FRESH_FILE: Final = DATA / "freshset.jsonl"
"""A test set written apart from the training data and frozen before training (issue 18):
when present it is the set ``cxpulse comments report`` measures by default."""


def default_set() -> Path:
    """The set to measure when none is named: the fresh one if present, else the test set."""
    return FRESH_FILE if FRESH_FILE.exists() else TEST_FILE


@dataclass(frozen=True, slots=True)
class Labelled:
    """One comment with the labels a native reader gave it."""

    comment: str
    locale: str | None
    language: str
    sentiment: str
    emotion: str
    themes: tuple[str, ...]


def read_corpus(path: Path) -> list[Labelled]:
    """The labelled comments of a JSON Lines file; a bad line is an error naming it."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            item = Labelled(row["comment"], row.get("locale"), row["language"],
                            row["sentiment"], row["emotion"], tuple(row.get("themes", ())))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a labelled comment ({error})") from None
        for value, allowed in ((item.language, LANGUAGES), (item.sentiment, SENTIMENTS),
                               (item.emotion, EMOTIONS), *((t, THEMES) for t in item.themes)):
            if value not in allowed:
                raise ValueError(f"{path}:{number}: unknown label {value!r}")
        out.append(item)
    return out
