"""What the detector reads and records, on both engines: live sums equal the backtest's."""

from __future__ import annotations

import random
import time
from dataclasses import replace

import pytest

from streams.core.alerts import AlertState, state_of, step
from streams.core.backtest import reach
from streams.core.drops import DetectorConfig, Verdict, judge
from streams.core.stats import STAT_COLUMNS
from streams.queries.alerting import (
    bucket_series,
    history,
    live_comparisons,
    newest_minute,
    record,
    recorded,
)
from streams.queries.scoring import MINUTE_COLUMNS
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.minutes import random_minutes

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
STEP_MS = 300_000
CONFIG = DetectorConfig(windows_ms=(HOUR_MS, 2 * HOUR_MS), baseline_ms=6 * HOUR_MS)
DEADLINE_MS = HOUR_MS
END_MS = 1_795_344_000_000 + 9 * HOUR_MS  # a 5-minute boundary
SEQUENTIAL = replace(CONFIG, onsets_ms=(STEP_MS, 2 * STEP_MS, 3 * HOUR_MS))
"""Candidate onsets too, the earliest longer than every window: its own baseline part."""


@pytest.mark.parametrize(("config", "spans"), [(CONFIG, 2), (SEQUENTIAL, 5),
                                               (replace(CONFIG, onsets_ms=(HOUR_MS,)), 3)])
def test_live_pass_reads_exactly_what_the_backtest_reads(warehouse: Warehouse,
                                                         config: DetectorConfig,
                                                         spans: int) -> None:
    migrate(warehouse)
    tenant = f"al{time.monotonic_ns()}"
    rows = random_minutes(tenant, random.Random(3), (END_MS - 9 * HOUR_MS) // 1000,
                          END_MS // 1000 + 600, skip=0.3)
    warehouse.insert("score_minutes", rows, MINUTE_COLUMNS)
    live, live_backlogs = live_comparisons(warehouse, END_MS, config, DEADLINE_MS)
    series = bucket_series(warehouse, start_ms=END_MS - reach(config, DEADLINE_MS),
                           end_ms=END_MS, step_ms=STEP_MS)
    replayed, replayed_backlogs = series.comparisons(END_MS, config, DEADLINE_MS)
    mine = sorted((c.scope, c.window_ms, c.onset, c.recent, c.baseline) for c in live
                  if c.scope[0] == tenant)
    assert mine == sorted((c.scope, c.window_ms, c.onset, c.recent, c.baseline)
                          for c in replayed if c.scope[0] == tenant)
    assert len(mine) == spans * (3 + 2 + 1)  # 3 scopes, 2 channel rollups, the tenant
    assert live_backlogs[tenant] == replayed_backlogs[tenant]
    assert live_backlogs[tenant].followups.due > 0
    assert sum(getattr(c[3].stats, STAT_COLUMNS[0]) for c in mine) > 0
    assert newest_minute(warehouse, END_MS) == END_MS + 540_000
    assert newest_minute(warehouse, END_MS + HOUR_MS) is None


def test_recorded_changes_rebuild_the_open_alerts(warehouse: Warehouse) -> None:
    migrate(warehouse)
    tenant = f"rec{time.monotonic_ns()}"
    live, backlogs = live_comparisons(warehouse, END_MS, CONFIG, DEADLINE_MS)
    verdicts = judge(live, backlogs, CONFIG)
    assert not any(v.alarm for k, v in verdicts.items() if k[0] == tenant)
    from tests.core.test_alerts import ALARM, CLEAR

    now = int(time.time()) // 60 * 60
    key = (tenant, "web", "*", "nps")
    state = AlertState()
    fired = step(state, {key: ALARM}, now - 120, CONFIG)
    other = step(state, {(tenant, "chat", "*", "nps"): ALARM, key: Verdict(None, False)},
                 now - 60, CONFIG)
    resolved = step(state, {(tenant, "chat", "*", "nps"): CLEAR, key: Verdict(None, False)},
                    now, CONFIG)
    for changes in (fired, other, resolved, fired):  # the last one again: a duplicate write
        record(warehouse, changes)
    mine = [c for c in recorded(warehouse) if c.tenant == tenant]
    assert state_of(mine) == state
    assert [c.key for c in history(warehouse, since_s=now - 600, firing_only=True)
            if c.tenant == tenant] == [key]
    assert [c.state for c in history(warehouse, since_s=now - 600)
            if c.tenant == tenant] == ["firing", "firing", "resolved"]
