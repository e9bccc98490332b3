"""CX_RETENTION_DAYS: forget raw events, facts and minutes by dropping whole old months.

ClickHouse 18.16 has no TTL clause, so retention drops the monthly partitions
(``toYYYYMM``) whose every instant is older than the retention: a month goes
once its end is ``days`` behind now, so up to a month more is kept than asked.
The hourly and daily rollups are kept: long trends outlive the detail, and
window reads older than the retention are exact to the hour.
"""

from __future__ import annotations

from streams.core.buckets import DAY_S, month_end
from streams.warehouse import Warehouse
from streams.warehouse.sql import in_list

RETAINED = ("interactions", "feedback", "followups", "score_facts", "score_minutes",
            "comment_insights", "feedback_revisions")
"""The tables retention prunes, each partitioned by month of event time."""


def expired(warehouse: Warehouse, *, days: int, now_s: int) -> dict[str, list[int]]:
    """Per table, the month partitions wholly older than ``days`` before ``now_s``."""
    cutoff = now_s - days * DAY_S
    rows = warehouse.query(
        "SELECT DISTINCT table, partition FROM system.parts "
        f"WHERE database = '{warehouse.database}' AND table IN {in_list(RETAINED)} AND active")
    found: dict[str, list[int]] = {}
    for row in rows:
        month = int(row["partition"])
        if month_end(month) <= cutoff:
            found.setdefault(row["table"], []).append(month)
    return {table: sorted(months) for table, months in sorted(found.items())}


def apply_retention(warehouse: Warehouse, *, days: int, now_s: int) -> dict[str, list[int]]:
    """Drop the expired partitions; returns what was dropped (table -> months)."""
    dropped = expired(warehouse, days=days, now_s=now_s)
    for table, months in dropped.items():
        for month in months:
            warehouse.execute(
                f"ALTER TABLE {warehouse.database}.{table} DROP PARTITION {month}")
    return dropped
