"""``cxpulse verify``: recompute every scope-minute from the raw tables and compare.

Deliberately a second path: it reads the deduplicated raw events (FINAL), not
the facts the worker stored, and links follow-ups to feedback here in Python.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from streams.core.facts import CLOSING_ACTIONS, in_time
from streams.core.stats import STAT_COLUMNS, Stats, feedback_stats, followup_stats, minute_of
from streams.core.stats import needs_followup as needs
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
    for row in warehouse.query(
            f"SELECT event_id, tenant, channel, touchpoint, {OCCURRED_MS} AS at_ms, survey, score, "
            f"scale FROM {db}.feedback FINAL"):
        at_ms, survey, score, scale = (int(row["at_ms"]), row["survey"], int(row["score"]),
                                       int(row["scale"]))
        stats = feedback_stats(survey, score, scale)
        if needs(survey, score, scale):
            followed = first_followup.get(row["event_id"])
            stats += followup_stats(at_ms, followed is not None
                                    and in_time(at_ms, followed, deadline_ms))
        key = (row["tenant"], row["channel"], row["touchpoint"], minute_of(at_ms) // 1000)
        minutes[key] += stats
    return dict(minutes)


def stored_minutes(warehouse: Warehouse) -> dict[Key, Stats]:
    columns = ", ".join(STAT_COLUMNS)
    return {(row["tenant"], row["channel"], row["touchpoint"], int(row["minute"])):
            Stats.from_dict(row) for row in warehouse.query(
                f"SELECT tenant, channel, touchpoint, toUnixTimestamp(minute) AS minute, "
                f"{columns} FROM {warehouse.database}.score_minutes FINAL")}


def differences(warehouse: Warehouse, deadline_ms: int) -> list[dict[str, Any]]:
    """Every scope-minute whose stored statistics differ from the recomputation."""
    expected, stored = expected_minutes(warehouse, deadline_ms), stored_minutes(warehouse)
    found = []
    for key in sorted(expected.keys() | stored.keys()):
        want, have = expected.get(key, Stats()), stored.get(key, Stats())
        if want != have:
            found.append({"scope": key[:3], "minute": key[3],
                          "fields": {name: (have.as_dict()[name], want.as_dict()[name])
                                     for name in STAT_COLUMNS
                                     if have.as_dict()[name] != want.as_dict()[name]}})
    return found
