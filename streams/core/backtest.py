"""Replay the detector over stored history: what would have fired, and how soon. No I/O.

Users tune thresholds with this before they turn paging on, so it runs the
very same ``judge`` and ``step`` as the leader, at every step of the range,
starting from no open alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.core.alerts import FIRING, AlertState, Change, step
from streams.core.drops import AlertKey, DetectorConfig, judge
from streams.core.series import Series
from streams.core.units import format_window


def check_step(step_ms: int, config: DetectorConfig, deadline_ms: int) -> None:
    """ValueError unless windows, baseline and deadline are whole steps (exact sums)."""
    if step_ms < 60_000 or step_ms % 60_000:
        raise ValueError(f"step must be whole minutes, got {step_ms / 1000:g}s")
    spans = [(f"{'onset' if onset else 'window'} {format_window(w)}", w)
             for w, onset in config.spans_ms]
    spans += [("baseline", config.baseline_ms), ("follow-up deadline", deadline_ms)]
    for name, span in spans:
        if span % step_ms:
            raise ValueError(f"the {name} ({format_window(span)}) is not a whole number of "
                             f"steps of {format_window(step_ms)}; choose a step that divides it")


def reach(config: DetectorConfig, deadline_ms: int) -> int:
    """How far before its first step a backtest reads: the longest window or onset, the
    baseline before it, and one follow-up deadline for the cases that came due in them."""
    return config.longest_ms + config.baseline_ms + deadline_ms


def replay(series: Series, *, start_ms: int, end_ms: int, config: DetectorConfig,
           deadline_ms: int, progress: Callable[[int, int], None] | None = None
           ) -> list[Change]:
    """Every change the detector makes evaluating at each step in [start, end]."""
    state = AlertState()
    changes: list[Change] = []
    steps = range(start_ms, end_ms + 1, series.step_ms)
    for index, at in enumerate(steps):
        comparisons, backlogs = series.comparisons(at, config, deadline_ms)
        changes += step(state, judge(comparisons, backlogs, config), at // 1000, config)
        if progress is not None:
            progress(index + 1, len(steps))
    return changes


@dataclass(frozen=True, slots=True)
class Summary:
    fired: int
    resolved: int
    by_metric: dict[str, int]
    """Firings per metric (escalations included)."""
    first_firing: dict[AlertKey, int]
    """Per alert, when it first fired (Unix seconds)."""
    delays: dict[AlertKey, int]
    """Per alert, seconds from ``onset`` to its first firing (only with an onset)."""

    def as_dict(self) -> dict[str, Any]:
        return {"fired": self.fired, "resolved": self.resolved, "by_metric": self.by_metric,
                "first_firing": [{"alert": "/".join(k), "at": v}
                                 for k, v in sorted(self.first_firing.items(),
                                                    key=lambda kv: kv[1])],
                "detection_delay_seconds": {"/".join(k): v for k, v in self.delays.items()}}


def summarize(changes: list[Change], onset: int | None = None) -> Summary:
    """Counts per metric, and each alert's first firing and its delay after ``onset``."""
    firing = [c for c in changes if c.state == FIRING]
    first: dict[AlertKey, int] = {}
    for change in firing:
        first.setdefault(change.key, change.at)
    delays = ({key: at - onset for key, at in first.items() if at >= onset}
              if onset is not None else {})
    return Summary(len(firing), len(changes) - len(firing),
                   dict(Counter(c.metric for c in firing)), first, delays)
