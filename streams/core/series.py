"""Minute sums bucketed by an evaluation step, with prefix sums: any window in O(1). No I/O.

A backtest evaluates the detector at every step over days of history; summing
the minutes again for each step and window would cost days x steps. With
cumulative sums per scope, a span is one subtraction. Exact as long as the
windows, the baseline and the follow-up deadline are whole steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from streams.core.drops import Comparison, DetectorConfig, Span
from streams.core.scores import Followups
from streams.core.stats import ALL, STAT_COLUMNS, Scope, Stats, rollups

_NEEDED = STAT_COLUMNS.index("followup_needed")
_MET = STAT_COLUMNS.index("followup_met")


@dataclass(frozen=True)
class Series:
    """Cumulative bucket sums per scope (rollups included) from ``origin_ms`` on."""

    origin_ms: int
    step_ms: int
    buckets: int
    cumulative: Mapping[Scope, np.ndarray]
    """Per scope, ``buckets + 1`` rows of ``STAT_COLUMNS``: row i sums buckets < i."""

    @classmethod
    def build(cls, rows: Iterable[tuple[Scope, int, Sequence[int]]], *, origin_ms: int,
              step_ms: int, buckets: int) -> Series:
        """From (scope, bucket index, ``STAT_COLUMNS`` values) rows of leaf scopes."""
        dense: dict[Scope, np.ndarray] = {}
        for scope, bucket, values in rows:
            if not 0 <= bucket < buckets:
                continue
            for target in rollups(scope):
                table = dense.get(target)
                if table is None:
                    table = dense[target] = np.zeros((buckets, len(STAT_COLUMNS)), np.int64)
                table[bucket] += np.asarray(values, dtype=np.int64)
        cumulative = {}
        for scope, table in dense.items():
            summed = np.zeros((buckets + 1, len(STAT_COLUMNS)), np.int64)
            np.cumsum(table, axis=0, out=summed[1:])
            cumulative[scope] = summed
        return cls(origin_ms, step_ms, buckets, cumulative)

    def _index(self, ms: int) -> int:
        return max(0, min(self.buckets, (ms - self.origin_ms) // self.step_ms))

    def span(self, scope: Scope, start_ms: int, end_ms: int, deadline_ms: int) -> Span:
        """Statistics of [start, end) and the follow-ups that came due in it."""
        index = self._index
        return self._span(scope, index(start_ms), index(end_ms), index(start_ms - deadline_ms),
                          index(end_ms - deadline_ms), (end_ms - start_ms) / 60_000)

    def _span(self, scope: Scope, lo: int, hi: int, due_lo: int, due_hi: int,
              minutes: float) -> Span:
        """Buckets [lo, hi); follow-ups of the feedback in [due_lo, due_hi)."""
        summed = self.cumulative[scope]
        values = (summed[hi] - summed[lo]).tolist()
        cohort = summed[due_hi] - summed[due_lo]
        return Span(Stats(*values), Followups(int(cohort[_NEEDED]), int(cohort[_MET])), minutes)

    def comparisons(self, end_ms: int, config: DetectorConfig, deadline_ms: int
                    ) -> tuple[list[Comparison], dict[str, Span]]:
        """What a live pass at ``end_ms`` compares, and each tenant's follow-up backlog span."""
        out = []
        backlogs: dict[str, Span] = {}
        index = self._index
        hi = index(end_ms)
        reach = index(end_ms - config.longest_ms - config.baseline_ms - deadline_ms)

        def bounds(start_ms: int, stop_ms: int) -> tuple[int, int, int, int, float]:
            return (index(start_ms), index(stop_ms), index(start_ms - deadline_ms),
                    index(stop_ms - deadline_ms), (stop_ms - start_ms) / 60_000)

        def before(span_ms: int) -> tuple[int, int, int, int, float]:
            return bounds(end_ms - span_ms - config.baseline_ms, end_ms - span_ms)

        # Each window against the baseline right before it; every candidate onset against
        # the one before the longest span, so no candidate's baseline holds the change.
        windows = [(span, onset, bounds(end_ms - span, end_ms),
                    before(config.longest_ms if onset else span))
                   for span, onset in config.spans_ms]
        backlog = bounds(end_ms - config.baseline_ms, end_ms)
        for scope, summed in self.cumulative.items():
            if not (summed[hi] - summed[reach]).any():
                continue  # no data in reach: nothing to compare
            for window, onset, recent, base in windows:
                out.append(Comparison(scope, window, self._span(scope, *recent),
                                      self._span(scope, *base), onset))
            if scope[1] == ALL:  # the bounds read only its follow-ups, as a live pass does
                span = self._span(scope, *backlog)
                backlogs[scope[0]] = Span(Stats(), span.followups, span.minutes)
        return out, backlogs
