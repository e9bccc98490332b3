"""``cxpulse verify``: recompute every scope-minute from the raw tables and compare.

Deliberately a second path: it reads the deduplicated raw events (FINAL), not
the facts the worker stored, and links follow-ups to feedback here in Python;
comment statistics come from the deduplicated insight rows. Of a feedback's
revisions only the highest counts (FINAL keeps it per month partition; here it is
kept across them too), and an insight counts only where that revision counts.
"""

from __future__ import annotations

import calendar
import time
from collections import defaultdict
from typing import Any

from streams.core.facts import CLOSING_ACTIONS, in_time
from streams.core.stats import (
    STAT_COLUMNS,
    Stats,
    comment_stats,
    feedback_stats,
    followup_stats,
    minute_of,
)
from streams.core.stats import needs_followup as needs
from streams.queries.scoring import ROLLUPS
from streams.queries.windows import STAT_SUMS, stats_of_sums
from streams.warehouse import Warehouse
from streams.warehouse.sql import OCCURRED_MS, in_list

Key = tuple[str, str, str, int]


def expected_minutes(warehouse: Warehouse, deadline_ms: int) -> dict[Key, Stats]:
    db = warehouse.database
    minutes: dict[Key, Stats] = defaultdict(Stats)
    for row in warehouse.query(
            f"SELECT tenant, channel, touchpoint, toUnixTimestamp(toStartOfMinute(occurred_at)) "
            f"AS minute, count() AS n, countIf(outcome = 'failure') AS failures "
            f"FROM {db}.interactions FINAL GROUP BY tenant, channel, touchpoint, minute"):
        key = (row["tenant"], row["channel"], row["touchpoint"], int(row["minute"]))
        minutes[key] += Stats(interactions=int(row["n"]), failures=int(row["failures"]))
    first_followup = {row["feedback_id"]: int(row["at_ms"]) for row in warehouse.query(
        f"SELECT feedback_id, min({OCCURRED_MS}) AS at_ms FROM {db}.followups FINAL "
        f"WHERE action IN {in_list(CLOSING_ACTIONS)} GROUP BY feedback_id")}
    latest: dict[str, dict[str, Any]] = {}
    for row in warehouse.query(
            f"SELECT event_id, tenant, channel, touchpoint, {OCCURRED_MS} AS at_ms, survey, score, "
            f"scale, revision FROM {db}.feedback FINAL"):
        known = latest.get(row["event_id"])
        if known is None or int(row["revision"]) > int(known["revision"]):
            latest[row["event_id"]] = row
    counted: dict[str, Key] = {}
    for event_id, row in latest.items():
        at_ms, survey, score, scale = (int(row["at_ms"]), row["survey"], int(row["score"]),
                                       int(row["scale"]))
        stats = feedback_stats(survey, score, scale)
        if needs(survey, score, scale):
            followed = first_followup.get(event_id)
            stats += followup_stats(at_ms, followed is not None
                                    and in_time(at_ms, followed, deadline_ms))
        key = (row["tenant"], row["channel"], row["touchpoint"], minute_of(at_ms) // 1000)
        counted[event_id] = key
        minutes[key] += stats
    for row in warehouse.query(
            f"SELECT event_id, tenant, channel, touchpoint, toUnixTimestamp(occurred_at) AS at_s, "
            f"sentiment, label, themes, comment != '' AS present "
            f"FROM {db}.comment_insights FINAL"):
        key = (row["tenant"], row["channel"], row["touchpoint"], minute_of(int(row["at_s"]) * 1000)
               // 1000)
        # A revision without a comment withdrew it; one that moved left it behind.
        if int(row["present"]) and counted.get(row["event_id"], key) == key:
            minutes[key] += comment_stats(float(row["sentiment"]), row["label"], row["themes"])
    return dict(minutes)


def stored_minutes(warehouse: Warehouse) -> dict[Key, Stats]:
    columns = ", ".join(STAT_COLUMNS)
    return {(row["tenant"], row["channel"], row["touchpoint"], int(row["minute"])):
            Stats.from_dict(row) for row in warehouse.query(
                f"SELECT tenant, channel, touchpoint, toUnixTimestamp(minute) AS minute, "
                f"{columns} FROM {warehouse.database}.score_minutes FINAL")}


def _bucket_sums(warehouse: Warehouse, table: str, column: str, size_s: int,
                 since_s: int) -> dict[Key, Stats]:
    """``table`` (FINAL) summed per scope and ``size_s`` bucket from ``since_s`` on."""
    bucket = f"intDiv(toUnixTimestamp({column}), {size_s}) * {size_s}"
    return {(row["tenant"], row["channel"], row["touchpoint"], int(row["bucket_s"])):
            stats_of_sums(row) for row in warehouse.query(
                f"SELECT tenant, channel, touchpoint, {bucket} AS bucket_s, {STAT_SUMS} "
                f"FROM {warehouse.database}.{table} FINAL "
                f"WHERE {column} >= toDateTime({since_s}) "
                "GROUP BY tenant, channel, touchpoint, bucket_s")}


def _compare(table: str, expected: dict[Key, Stats], stored: dict[Key, Stats]
             ) -> list[dict[str, Any]]:
    found = []
    for key in sorted(expected.keys() | stored.keys()):
        want, have = expected.get(key, Stats()).as_dict(), stored.get(key, Stats()).as_dict()
        if want != have:
            found.append({"table": table, "scope": key[:3], "minute": key[3],
                          "fields": {name: (have[name], want[name]) for name in STAT_COLUMNS
                                     if have[name] != want[name]}})
    return found


def rollup_differences(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Every scope-hour and scope-day whose stored rollup differs from its minutes' sum.

    Only from the oldest month that still has minutes: the rollups outlive the
    minutes a retention pass drops (``queries.retention``).
    """
    oldest = warehouse.query(
        f"SELECT count() AS n, toUnixTimestamp(min(minute)) AS first_s "
        f"FROM {warehouse.database}.score_minutes")
    since_s = 0
    if int(oldest[0]["n"]):
        first = time.gmtime(int(oldest[0]["first_s"]))
        since_s = calendar.timegm((first.tm_year, first.tm_mon, 1, 0, 0, 0))
    found = []
    for table, column, _, _, size_s in ROLLUPS:
        found += _compare(table, _bucket_sums(warehouse, "score_minutes", "minute", size_s,
                                              since_s),
                          _bucket_sums(warehouse, table, column, size_s, since_s))
    return found


def differences(warehouse: Warehouse, deadline_ms: int) -> list[dict[str, Any]]:
    """Every scope-minute whose stored statistics differ from the recomputation from raw
    events, then every hour and day that differs from its minutes."""
    return (_compare("score_minutes", expected_minutes(warehouse, deadline_ms),
                     stored_minutes(warehouse))
            + rollup_differences(warehouse))
