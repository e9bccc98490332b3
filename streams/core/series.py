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
        summed = self.cumulative[scope]
        lo, hi = self._index(start_ms), self._index(end_ms)
        values = (summed[hi] - summed[lo]).tolist()
        stats = Stats(*values[:len(STAT_COLUMNS)])
        _, edge_ms = due_bounds(due_at_ms, deadline_ms)
        edge = self._index(edge_ms)
        whole_hi = min(hi, edge)
        due = met = 0
        if whole_hi > lo:
            whole = summed[whole_hi] - summed[lo]
            due, met = int(whole[_NEEDED]), int(whole[_MET])
        if lo <= edge < hi:
            first = self.first_on[scope][edge]
            due, met = due + int(first[0]), met + int(first[1])
        return Span(stats, Followups(due, met), (end_ms - start_ms) / 60_000)

    def comparisons(self, end_ms: int, config: DetectorConfig, deadline_ms: int
                    ) -> tuple[list[Comparison], dict[str, Span]]:
        """What a live pass at ``end_ms`` compares, and each tenant's follow-up backlog span."""
        out = []
        backlogs: dict[str, Span] = {}
        lo = self._index(end_ms - max(config.windows_ms) - config.baseline_ms)
        hi = self._index(end_ms)
        for scope, summed in self.cumulative.items():
            if not (summed[hi] - summed[lo]).any():
                continue  # no data in reach: nothing to compare
            for window in config.windows_ms:
                recent = self.span(scope, end_ms - window, end_ms, end_ms, deadline_ms)
                baseline = self.span(scope, end_ms - window - config.baseline_ms,
                                     end_ms - window, end_ms, deadline_ms)
                out.append(Comparison(scope, window, recent, baseline))
            if scope[1] == ALL:
                backlogs[scope[0]] = self.span(scope, end_ms - config.baseline_ms, end_ms,
                                               end_ms, deadline_ms)
        return out, backlogs
