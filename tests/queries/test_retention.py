"""CX_RETENTION_DAYS drops whole old months of raw events, facts and minutes; rollups stay."""

from __future__ import annotations

import calendar

import pytest

from streams.core.buckets import month_end
from streams.core.insights import INSIGHT_COLUMNS, insight_row
from streams.core.rows import COLUMNS
from streams.core.stats import STAT_COLUMNS
from streams.queries.retention import RETAINED, apply_retention, expired
from streams.queries.scoring import MINUTE_COLUMNS, rewrite_rollups
from streams.queries.verify import rollup_differences
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.databases import OwnDatabase

MONTHS = ((2026, 1), (2026, 2), (2026, 3))
NOW_S = calendar.timegm((2026, 3, 20, 12, 0, 0))


def test_month_end_is_the_next_month_start() -> None:
    assert month_end(202612) == calendar.timegm((2027, 1, 1, 0, 0, 0))
    assert month_end(202602) == calendar.timegm((2026, 3, 1, 0, 0, 0))


@pytest.mark.integration
def test_retention_drops_only_months_wholly_older_than_the_days(warehouse: Warehouse) -> None:
    own = OwnDatabase(warehouse, "retention")
    try:
        migrate(own)
        rows = [("t", "web", "checkout", calendar.timegm((year, month, 10, 8, 30, 0)),
                 *[1] * len(STAT_COLUMNS), 1, 0) for year, month in MONTHS]
        own.insert("score_minutes", rows, MINUTE_COLUMNS)
        rewrite_rollups(own, {row[:4] for row in rows})
        january_end = calendar.timegm((2026, 1, 31, 23, 59, 59))
        own.insert("interactions", [("e1", "t", "web", "checkout", january_end, 0, 0, "", "",
                                     "{}", "visit", "", None, None, "", NOW_S, 0, 0)],
                   COLUMNS["interactions"])
        own.insert("comment_insights", [insight_row(
            "e2", ("t", "web", "checkout"), january_end * 1000, "", "old words",
            language="en", sentiment=0.0, label="neutral", emotion="neutral", themes=(),
            model_version="m", enriched_s=NOW_S)], INSIGHT_COLUMNS)
        # 40 days before Mar 20 is Feb 8: January ended before it, February did not.
        assert expired(own, days=40, now_s=NOW_S) == {"comment_insights": [202601],
                                                      "interactions": [202601],
                                                      "score_minutes": [202601]}
        assert apply_retention(own, days=40, now_s=NOW_S)["score_minutes"] == [202601]
        assert expired(own, days=40, now_s=NOW_S) == {}
        months = {table: [int(r["m"]) for r in own.query(
            f"SELECT DISTINCT toYYYYMM({column}) AS m FROM {own.database}.{table} ORDER BY m")]
            for table, column in (("score_minutes", "minute"), ("score_hours", "hour"),
                                  ("score_days", "day"), ("interactions", "occurred_at"))}
        assert months == {"score_minutes": [202602, 202603], "interactions": [],
                          "score_hours": [202601, 202602, 202603],
                          "score_days": [202601, 202602, 202603]}
        assert rollup_differences(own) == []  # checked where minutes remain
        assert set(RETAINED) >= {"score_minutes", "interactions", "comment_insights"}
        assert int(own.query(
            f"SELECT count() AS n FROM {own.database}.comment_insights")[0]["n"]) == 0
    finally:
        own.close()

