"""A second, lexical view of a comment: hashed words, word pairs and character n-grams.

The encoder reads meaning but misses idioms a small model never met ("pas mal",
"nickel", "leiwand", "mantap", "zwina", "nothing to complain about"); a linear head over
the words themselves learns them from a few examples, and costs tens of microseconds
per comment (no vocabulary to load: features are hashed into ``BUCKETS`` slots with
CRC-32, which, unlike ``hash``, is the same in every process). Pure numpy.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Sequence
from typing import Final

import numpy as np

from streams.comments.pii import PLACEHOLDER

BUCKETS: Final = 1 << 14
GRAMS: Final = (2, 5)
"""Character n-gram lengths (inclusive) taken inside each word, with its boundaries."""
_TOKENS: Final = re.compile(r"\w+|[^\w\s]")
_ARABIC_MARKS: Final = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_LETTERS: Final = str.maketrans("أإآٱىة", "اااايه")
_REPEATS: Final = re.compile(r"(.)\1{2,}")
PLACEHOLDERS: Final = re.compile("|".join(map(re.escape, PLACEHOLDER.values())))
"""The masker's placeholders (``[phone]``): their letters are ours, not the customer's."""


def has_letter(text: str) -> bool:
    """Whether the customer wrote a letter: one outside the masking placeholders."""
    return any(unicodedata.category(char)[0] == "L" for char in PLACEHOLDERS.sub(" ", text))


def normalise(text: str) -> str:
    """Lowercased, accents and Arabic vowel marks dropped, letter variants merged, runs of
    one character cut to two ("sooooo" and "soo" are one word)."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(char for char in folded if not unicodedata.combining(char))
    folded = _ARABIC_MARKS.sub("", folded).translate(_ARABIC_LETTERS)
    return _REPEATS.sub(r"\1\1", folded)


def grams(text: str) -> list[str]:
    """The comment's words, adjacent word pairs, and n-grams of each word's letters (with
    ``<`` and ``>`` at its ends), repeated as often as they occur."""
    words = _TOKENS.findall(normalise(text))
    out = [f"w {word}" for word in words]
    out += [f"b {a} {b}" for a, b in zip(["^", *words], [*words, "$"], strict=True)]
    low, high = GRAMS
    for word in words:
        if len(word) > 1 and word[0].isalnum():
            padded = f"<{word}>"
            out += [padded[i:i + size] for size in range(low, high + 1)
                    for i in range(len(padded) - size + 1)]
    return out


def features(text: str) -> Counter[str]:
    """``grams`` counted."""
    return Counter(grams(text))


class SparseRows:
    """Comments as hashed, L2-normalised feature rows (CSR): enough of a matrix for
    ``heads.fit`` and ``Head.probabilities`` (``rows @ weights``, ``rows.T @ errors``)."""

    def __init__(self, texts: Sequence[str], buckets: int = BUCKETS) -> None:
        # one pass over the batch's n-grams (a list, C-level hashing, one np.unique): about
        # 0.07 ms of CPU per 60-character comment, a third of a Counter per comment
        lists = [grams(text) for text in texts]
        flat = [gram for each in lists for gram in each]
        hashed = np.fromiter(map(zlib.crc32, map(str.encode, flat)), np.int64, len(flat))
        owner = np.repeat(np.arange(len(texts)), [len(each) for each in lists])
        cells, counts = np.unique(owner * buckets + hashed % buckets, return_counts=True)
        self.rows, self.columns = cells // buckets, cells % buckets
        values = np.sqrt(counts)
        self.values = values / np.sqrt(np.bincount(self.rows, values * values,
                                                   len(texts)))[self.rows]
        self.shape = (len(texts), buckets)

    def __matmul__(self, weights: np.ndarray) -> np.ndarray:
        spread = weights[self.columns] * self.values[:, None]
        return np.stack([np.bincount(self.rows, spread[:, k], self.shape[0])
                         for k in range(weights.shape[1])], axis=1)

    @property
    def T(self) -> _Transposed:
        """numpy's name for the transpose, so ``heads.fit`` reads sparse rows unchanged."""
        return _Transposed(self)


class _Transposed:
    def __init__(self, rows: SparseRows) -> None:
        self.of = rows

    def __matmul__(self, errors: np.ndarray) -> np.ndarray:
        m = self.of
        spread = errors[m.rows] * m.values[:, None]
        return np.stack([np.bincount(m.columns, spread[:, k], m.shape[1])
                         for k in range(errors.shape[1])], axis=1)
