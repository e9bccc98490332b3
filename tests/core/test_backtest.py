"""Replays: the sequential detector is a function of the stored minutes, nothing else."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from streams.core.alerts import FIRING, state_of, step
from streams.core.backtest import check_step, reach, replay
from streams.core.drops import DEFAULT_ONSETS_MS, DetectorConfig, judge
from streams.core.series import Series
from streams.core.stats import STAT_COLUMNS

STEP_MS = 300_000
DEADLINE_MS = 3_600_000
SCOPE = ("acme", "web", "checkout")
SEQUENTIAL = DetectorConfig(onsets_ms=DEFAULT_ONSETS_MS)
WINDOWS = replace(SEQUENTIAL, onsets_ms=())
ORIGIN_MS = 1_796_000_000_000 - 1_796_000_000_000 % STEP_MS
ONSET = (reach(SEQUENTIAL, DEADLINE_MS) + 3_600_000) // STEP_MS
"""The bucket where checkout starts failing: a full reach of steady history before it."""


def _series(buckets: int) -> Series:
    """Checkout with 10 interactions per 5 minutes, 3% failing, then 40% from ``ONSET``."""
    rng = random.Random(17)
    failures, interactions = STAT_COLUMNS.index("failures"), STAT_COLUMNS.index("interactions")
    rows = []
    for bucket in range(buckets):
        values = [0] * len(STAT_COLUMNS)
        values[interactions] = 10
        values[failures] = sum(rng.random() < (0.4 if bucket >= ONSET else 0.03)
                               for _ in range(10))
        rows.append((SCOPE, bucket, values))
    return Series.build(rows, origin_ms=ORIGIN_MS, step_ms=STEP_MS, buckets=buckets)


SERIES = _series(ONSET + 48)
START_MS = ORIGIN_MS + (ONSET - 12) * STEP_MS
END_MS = ORIGIN_MS + (ONSET + 47) * STEP_MS


def _first_firing(config: DetectorConfig) -> int:
    changes = replay(SERIES, start_ms=START_MS, end_ms=END_MS, config=config,
                     deadline_ms=DEADLINE_MS)
    return min(c.at for c in changes if c.state == FIRING and c.metric == "failure_rate")


def test_the_sequential_detector_catches_the_shift_sooner_and_steady_history_stays_quiet(
        ) -> None:
    onset_s = (ORIGIN_MS + ONSET * STEP_MS) // 1000
    sequential, windows = _first_firing(SEQUENTIAL), _first_firing(WINDOWS)
    assert onset_s < sequential < windows
    assert sequential - onset_s <= 30 * 60
    quiet = replay(SERIES, start_ms=START_MS, end_ms=ORIGIN_MS + (ONSET - 1) * STEP_MS,
                   config=SEQUENTIAL, deadline_ms=DEADLINE_MS)
    assert quiet == []


def test_a_replay_is_exact_and_a_new_leader_continues_it_from_the_recorded_changes() -> None:
    whole = replay(SERIES, start_ms=START_MS, end_ms=END_MS, config=SEQUENTIAL,
                   deadline_ms=DEADLINE_MS)
    assert whole and whole == replay(_series(ONSET + 48), start_ms=START_MS, end_ms=END_MS,
                                     config=SEQUENTIAL, deadline_ms=DEADLINE_MS)
    middle_ms = ORIGIN_MS + (ONSET + 3) * STEP_MS  # a leader dies in the incident
    before = [c for c in whole if c.at * 1000 <= middle_ms]
    state = state_of(before)  # what a new leader rebuilds from cx.alerts
    after = []
    for at in range(middle_ms + STEP_MS, END_MS + 1, STEP_MS):
        comparisons, backlogs = SERIES.comparisons(at, SEQUENTIAL, DEADLINE_MS)
        after += step(state, judge(comparisons, backlogs, SEQUENTIAL), at // 1000, SEQUENTIAL)
    assert before + after == whole


def test_onsets_must_be_whole_steps() -> None:
    with pytest.raises(ValueError, match="onset 7m"):
        check_step(STEP_MS, replace(SEQUENTIAL, onsets_ms=(420_000,)), DEADLINE_MS)
