"""Window reads from the rollups equal the minute-table answer, on both engines."""

from __future__ import annotations

import random
import time

import pytest

from streams.core.buckets import DAY_S, cover
from streams.core.scores import Followups, followups_due, window_total
from streams.core.stats import Stats
from streams.queries.scoring import MINUTE_COLUMNS, rewrite_rollups
from streams.queries.windows import scope_totals
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.minutes import random_minutes

START_S = 1_795_305_600 - 2 * DAY_S + 37 * 60  # not on an hour: ragged on both sides
SPAN_S = 4 * DAY_S
DEADLINES_MS = (3_600_000, 48 * 3_600_000, 90_000, 7 * 3_600_000 + 60_000)


def test_cover_tiles_any_aligned_range_coarsest_first() -> None:
    rng = random.Random(5)
    for _ in range(5000):
        start = rng.randrange(10**9) // 60 * 60
        end = start + rng.randrange(60 * DAY_S) // 60 * 60
        position = start
        for size, low, high in cover(start, end):
            assert low == position and low % size == 0 and high % size == 0 and high > low
            position = high
        assert position == end
    assert cover(86400 - 60, 2 * 86400 + 120) == [
        (60, 86340, 86400), (86400, 86400, 172800), (60, 172800, 172920)]


@pytest.mark.integration
def test_any_window_equals_the_minute_table_answer(warehouse: Warehouse) -> None:
    migrate(warehouse)
    rng = random.Random(8)
    tenant = f"win{time.monotonic_ns()}"
    rows = random_minutes(tenant, rng, START_S, START_S + SPAN_S, skip=0.8)
    warehouse.insert("score_minutes", rows, MINUTE_COLUMNS)
    rewrite_rollups(warehouse, {row[:4] for row in rows})
    by_scope: dict[tuple, list[tuple[int, Stats]]] = {}
    for row in rows:
        by_scope.setdefault(row[:3], []).append(
            (row[3] * 1000, Stats(*row[4:4 + len(Stats().as_dict())])))
    lengths_s = [60, 37 * 60, 3600, 5 * 3600 + 120, DAY_S, DAY_S + 60, 3 * DAY_S + 7 * 3600]
    for attempt in range(24):
        window_s = lengths_s[attempt % len(lengths_s)] if attempt < 14 \
            else rng.randrange(1, SPAN_S // 60) * 60
        end_s = START_S + rng.randrange(0, SPAN_S // 60 + 120) * 60
        deadline_ms = DEADLINES_MS[attempt % len(DEADLINES_MS)]
        got = scope_totals(warehouse, end_s * 1000, window_s * 1000, deadline_ms,
                           {"tenant": tenant})
        want = {}
        for scope, minutes in by_scope.items():
            total = window_total(minutes, end_s * 1000, window_s * 1000)
            due = followups_due(minutes, end_s * 1000, window_s * 1000, deadline_ms)
            if total != Stats() or due != Followups(0, 0):
                want[scope] = (total, due)
        got = {scope: value for scope, value in got.items()
               if value != (Stats(), Followups(0, 0))}
        assert got == want, (end_s, window_s, deadline_ms)
