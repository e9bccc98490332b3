"""Which rollup buckets answer a time range exactly: whole days, whole hours, then minutes.

``cover`` splits ``[start, end)`` (minute-aligned epoch seconds) into runs of
whole buckets of the coarsest size that fits, finer sizes only at the ragged
edges, so a window reads at most 23 hours and 59 minutes of finer rows on
either side of its whole days, whatever its length.
"""

from __future__ import annotations

import calendar
from typing import Final

MINUTE_S: Final = 60
HOUR_S: Final = 3600
DAY_S: Final = 86400
SIZES: Final = (DAY_S, HOUR_S, MINUTE_S)
"""Bucket sizes of score_days, score_hours and score_minutes (UTC, from the epoch)."""

Run = tuple[int, int, int]
"""(bucket size in seconds, first bucket start, end): the buckets in [start, end)."""


def cover(start_s: int, end_s: int, sizes: tuple[int, ...] = SIZES) -> list[Run]:
    """Runs of whole buckets, coarsest first where they fit, that tile [start, end) exactly."""
    if start_s >= end_s or not sizes:
        return []
    size, finer = sizes[0], sizes[1:]
    if not finer and (start_s % size or end_s % size):
        raise ValueError(f"[{start_s}, {end_s}) is not aligned to {size} s buckets")
    low, high = -(-start_s // size) * size, end_s // size * size
    if low >= high:
        return cover(start_s, end_s, finer)
    return [*cover(start_s, low, finer), (size, low, high), *cover(high, end_s, finer)]


def month_end(yyyymm: int) -> int:
    """Epoch seconds where the UTC month ``yyyymm`` (a ``toYYYYMM`` partition) ends."""
    year, month = divmod(yyyymm, 100)
    return calendar.timegm((year + month // 12, month % 12 + 1, 1, 0, 0, 0))
