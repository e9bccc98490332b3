"""Bulk synthetic history, as the benches write it: the shape asked for, rollups that add up to
the minutes (read through ``windows.daily_totals`` at every grain), on both engines."""

from __future__ import annotations

import pytest

from streams.core.buckets import DAY_S
from streams.queries.synthetic import build_rollups, fill_history, fill_minutes, stored_rows
from streams.queries.windows import daily_totals
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.databases import OwnDatabase

END_S = 1_798_761_600  # 2027-01-01T00:00Z


@pytest.mark.integration
def test_minutes_fill_every_scope_on_its_stride_and_roll_up_exactly(warehouse: Warehouse
                                                                   ) -> None:
    own = OwnDatabase(warehouse, "synthetic_minutes")
    try:
        migrate(own)
        first_s = END_S - 3 * DAY_S
        rows = fill_minutes(own, first_s, END_S, scopes=(2, 3, 2), stride_min=30)
        assert rows == 3 * 48 * 12 == stored_rows(own, "score_minutes")
        shape = own.query(
            f"SELECT tenant, channel, touchpoint, count() AS n, "
            f"toUnixTimestamp(min(minute)) AS first_s, toUnixTimestamp(max(minute)) AS last_s "
            f"FROM {own.database}.score_minutes GROUP BY tenant, channel, touchpoint")
        assert len(shape) == 12 and {int(row["n"]) for row in shape} == {3 * 48}
        assert {row["tenant"] for row in shape} == {"tenant0", "tenant1"}
        assert {row["channel"] for row in shape} == {"channel0", "channel1", "channel2"}
        assert all(first_s <= int(row["first_s"]) < first_s + 30 * 60
                   and int(row["last_s"]) < END_S for row in shape)

        build_rollups(own, first_s, END_S)
        minutes = daily_totals(own, "score_minutes", "minute", first_s, END_S)
        assert len(minutes) == 3 and all(int(day["total_interactions"]) > 0 for day in minutes)
        assert daily_totals(own, "score_hours", "hour", first_s, END_S) == minutes
        assert daily_totals(own, "score_days", "day", first_s, END_S) == minutes
        assert daily_totals(own, "score_days", "day", first_s + DAY_S, END_S) == minutes[1:]
    finally:
        own.close()


@pytest.mark.integration
def test_history_holds_facts_answers_revisions_and_followups(warehouse: Warehouse) -> None:
    own = OwnDatabase(warehouse, "synthetic_history")
    try:
        migrate(own)
        fill_history(own, 1000, END_S - 31 * DAY_S)
        assert {table: stored_rows(own, table) for table in (
            "score_facts", "feedback", "feedback_revisions", "followups")} == {
            "score_facts": 1000, "feedback": 200, "feedback_revisions": 200, "followups": 100}
        span = own.query(f"SELECT toUnixTimestamp(min(minute)) AS low, "
                         f"toUnixTimestamp(max(minute)) AS high FROM {own.database}.score_facts")
        assert END_S - 31 * DAY_S <= int(span[0]["low"]) <= int(span[0]["high"]) < END_S
    finally:
        own.close()
