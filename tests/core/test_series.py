"""Bucketed prefix sums give exactly the sums, and the follow-ups come due, of their minutes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.scores import Followups, window_total
from streams.core.series import Series
from streams.core.stats import ALL, MINUTE_MS, STAT_COLUMNS, Stats, rollups

STEP_MS = 5 * MINUTE_MS
DEADLINE_MS = 4 * STEP_MS
ORIGIN_MS = 1_700_000_100_000 - 1_700_000_100_000 % STEP_MS
MINUTES = 60


def _bucket_rows(minutes: dict[tuple[str, str, str], dict[int, Stats]]) -> list:
    rows = []
    for scope, by_minute in minutes.items():
        buckets: dict[int, list[int]] = {}
        for minute, stats in by_minute.items():
            index = (minute - ORIGIN_MS) // STEP_MS
            values = buckets.setdefault(index, [0] * len(STAT_COLUMNS))
            for i, name in enumerate(STAT_COLUMNS):
                values[i] += getattr(stats, name)
        rows += [(scope, index, values) for index, values in buckets.items()]
    return rows


minute_stats = st.builds(
    lambda needed, met, on, n: Stats(interactions=n, followup_needed=needed,
                                     followup_met=min(met, needed),
                                     followup_needed_on_minute=min(on, needed),
                                     followup_met_on_minute=min(on, met, needed)),
    st.integers(0, 3), st.integers(0, 3), st.integers(0, 2), st.integers(0, 5))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["web", "app"]),
                                 st.sampled_from(["x", "y"]), st.integers(0, MINUTES - 1)),
                       minute_stats, max_size=40),
       st.integers(0, MINUTES // 5), st.integers(1, MINUTES // 5))
def test_spans_equal_the_minute_sums(cells: dict, start: int, length: int) -> None:
    leaf: dict[tuple[str, str, str], dict[int, Stats]] = {}
    for (tenant, channel, touchpoint, minute), stats in cells.items():
        leaf.setdefault((tenant, channel, touchpoint), {})[ORIGIN_MS + minute * MINUTE_MS] = stats
    series = Series.build(_bucket_rows(leaf), origin_ms=ORIGIN_MS, step_ms=STEP_MS,
                          buckets=MINUTES // 5)
    start_ms = ORIGIN_MS + start * STEP_MS
    end_ms = start_ms + length * STEP_MS
    every: dict[tuple[str, str, str], dict[int, Stats]] = {}
    for scope, by_minute in leaf.items():
        for target in rollups(scope):
            for minute, stats in by_minute.items():
                have = every.setdefault(target, {}).get(minute, Stats())
                every[target][minute] = have + stats
    assert set(series.cumulative) == set(every)
    for scope, by_minute in every.items():
        got = series.span(scope, start_ms, end_ms, DEADLINE_MS)
        assert got.stats == window_total(by_minute.items(), end_ms, end_ms - start_ms)
        # Came due in the span: feedback one deadline earlier (cut at the series' start).
        cohort = window_total(by_minute.items(), end_ms - DEADLINE_MS, end_ms - start_ms)
        assert got.followups == Followups(cohort.followup_needed, cohort.followup_met)
        assert got.minutes == (end_ms - start_ms) / MINUTE_MS
    assert all(scope[2] == ALL or scope[1] != ALL for scope in series.cumulative)
