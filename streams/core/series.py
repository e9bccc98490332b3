"""Minute sums bucketed by an evaluation step, with prefix sums: any window in O(1). No I/O.

A backtest evaluates the detector at every step over days of history; summing
the minutes again for each step and window would cost days x steps. With
cumulative sums per scope, a span is one subtraction, and the follow-ups due
at a step are exact as long as windows, baseline and deadline are whole steps
(``due_bounds``: whole buckets before the edge, plus the edge bucket's first
minute).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from streams.core.drops import Comparison, DetectorConfig, Span
from streams.core.scores import Followups, due_bounds
from streams.core.stats import ALL, STAT_COLUMNS, Scope, Stats, rollups

BUCKET_COLUMNS = (*STAT_COLUMNS, "first_needed_on_minute", "first_met_on_minute")
"""Per bucket: the summed statistics, then the edge-minute follow-ups of its first minute."""
_NEEDED = STAT_COLUMNS.index("followup_needed")
_MET = STAT_COLUMNS.index("followup_met")
_FIRST_NEEDED = len(STAT_COLUMNS)
_FIRST_MET = _FIRST_NEEDED + 1


@dataclass(frozen=True)
class Series:
    """Cumulative bucket sums per scope (rollups included) from ``origin_ms`` on."""

    origin_ms: int
    step_ms: int
    buckets: int
    cumulative: Mapping[Scope, np.ndarray]
    """Per scope, ``buckets + 1`` rows of ``BUCKET_COLUMNS``: row i sums buckets < i."""
    first_on: Mapping[Scope, np.ndarray]
    """Per scope and bucket, the first minute's (needed, met) on-minute follow-ups."""

    @classmethod
    def build(cls, rows: Iterable[tuple[Scope, int, Sequence[int]]], *, origin_ms: int,
              step_ms: int, buckets: int) -> Series:
        """From (scope, bucket index, ``BUCKET_COLUMNS`` values) rows of leaf scopes."""
        dense: dict[Scope, np.ndarray] = {}
        for scope, bucket, values in rows:
            if not 0 <= bucket < buckets:
                continue
            for target in rollups(scope):
                table = dense.get(target)
                if table is None:
                    table = dense[target] = np.zeros((buckets, len(BUCKET_COLUMNS)), np.int64)
                table[bucket] += np.asarray(values, dtype=np.int64)
        cumulative = {}
        for scope, table in dense.items():
            summed = np.zeros((buckets + 1, len(BUCKET_COLUMNS)), np.int64)
            np.cumsum(table, axis=0, out=summed[1:])
            cumulative[scope] = summed
        first_on = {scope: table[:, _FIRST_NEEDED:] for scope, table in dense.items()}
        return cls(origin_ms, step_ms, buckets, cumulative, first_on)

    def _index(self, ms: int) -> int:
        return max(0, min(self.buckets, (ms - self.origin_ms) // self.step_ms))

    def span(self, scope: Scope, start_ms: int, end_ms: int, due_at_ms: int,
             deadline_ms: int) -> Span:
        """Statistics of [start, end) and its follow-ups due at ``due_at_ms``."""
        edge = self._index(due_bounds(due_at_ms, deadline_ms)[1])
        return self._span(scope, self._index(start_ms), self._index(end_ms), edge,
                          (end_ms - start_ms) / 60_000)

    def _span(self, scope: Scope, lo: int, hi: int, edge: int, minutes: float) -> Span:
        """Buckets [lo, hi); follow-ups due: whole buckets before ``edge``, its first minute."""
        summed = self.cumulative[scope]
        values = (summed[hi] - summed[lo]).tolist()
        due = met = 0
        whole_hi = min(hi, edge)
        if whole_hi > lo:
            whole = summed[whole_hi] - summed[lo]
            due, met = int(whole[_NEEDED]), int(whole[_MET])
        if lo <= edge < hi:
            first = self.first_on[scope][edge]
            due, met = due + int(first[0]), met + int(first[1])
        return Span(Stats(*values[:len(STAT_COLUMNS)]), Followups(due, met), minutes)

    def comparisons(self, end_ms: int, config: DetectorConfig, deadline_ms: int
                    ) -> tuple[list[Comparison], dict[str, Span]]:
        """What a live pass at ``end_ms`` compares, and each tenant's follow-up backlog span."""
        out = []
        backlogs: dict[str, Span] = {}
        index = self._index
        hi = index(end_ms)
        edge = index(due_bounds(end_ms, deadline_ms)[1])
        reach = index(end_ms - max(config.windows_ms) - config.baseline_ms)
        windows = [(window, index(end_ms - window), index(end_ms - window - config.baseline_ms),
                    window / 60_000) for window in config.windows_ms]
        baseline_minutes = config.baseline_ms / 60_000
        backlog_lo = index(end_ms - config.baseline_ms)
        for scope, summed in self.cumulative.items():
            if not (summed[hi] - summed[reach]).any():
                continue  # no data in reach: nothing to compare
            for window, mid, lo, minutes in windows:
                out.append(Comparison(scope, window, self._span(scope, mid, hi, edge, minutes),
                                      self._span(scope, lo, mid, edge, baseline_minutes)))
            if scope[1] == ALL:
                backlogs[scope[0]] = self._span(scope, backlog_lo, hi, edge, baseline_minutes)
        return out, backlogs
