"""CX_RETENTION_DAYS drops whole old months of raw events, facts and minutes; rollups stay.
The other tables lose their old rows by their rules; open cases, firing alerts and open
incidents stay."""

from __future__ import annotations

import calendar

import pytest

from streams.core.alerts import ALERT_COLUMNS
from streams.core.buckets import month_end
from streams.core.cases import CASE_COLUMNS
from streams.core.insights import INSIGHT_COLUMNS, insight_row
from streams.core.retention import RULES, days_per_table
from streams.core.rows import COLUMNS
from streams.core.stats import STAT_COLUMNS
from streams.queries.incidents import STORED_COLUMNS
from streams.queries.retention import RETAINED, apply_retention, expired, prune
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



DAY = 86400
OLD, YOUNG = NOW_S - 400 * DAY, NOW_S - 2 * DAY
"""Older than every default row retention, and younger than all of them."""


def _case(feedback_id: str, opened_s: int, *, met: bool, version: int,
          withdrawn: int = 0) -> tuple[object, ...]:
    return ("t", "web", "checkout", feedback_id, "c1", "nps", 3, 10, "", opened_s, 0,
            opened_s + 48 * 3600, opened_s + 3600 if met else None,
            "contacted" if met else "", version, 0, withdrawn)


def _alert(metric: str, state: str, at: int) -> tuple[object, ...]:
    return ("t", "web", "checkout", metric, state, at, "1h", 1.0, 2.0, 10, "r", "warning",
            None, "7d", "1h")


def _incident(id_: str, state: str, updated_s: int, version: int) -> tuple[object, ...]:
    return ("t", id_, "web", "checkout", state, "warning", "web", "checkout", "nps",
            updated_s, ["nps"], 1, updated_s, updated_s,
            updated_s if state == "resolved" else None, version, "{}", "{}")


def _fill(own: Warehouse) -> None:
    own.insert("deadletters", [(OLD, "invalid", "m", "cx.feedback", 0, 1, b"x"),
                               (YOUNG, "invalid", "m", "cx.feedback", 0, 2, b"y")],
               COLUMNS["deadletters"])
    own.insert("notifications", [("old", 0, "case_opened", OLD, "{}"),
                                 ("young", 0, "case_opened", YOUNG, "{}")],
               ("event_id", "revision", "type", "sent_at", "payload"))
    # Versions in separate inserts, as the worker writes them: every one must go together.
    own.insert("followup_cases", [
        _case("met-old", OLD, met=False, version=0), _case("withdrawn-old", OLD, met=False,
                                                           version=0),
        _case("open-old", OLD, met=False, version=0)], CASE_COLUMNS)  # overdue, still open
    own.insert("followup_cases", [
        _case("met-old", OLD, met=True, version=5),
        _case("withdrawn-old", OLD, met=False, version=9, withdrawn=1),
        _case("met-young", YOUNG, met=True, version=5)], CASE_COLUMNS)
    own.insert("alerts", [_alert("nps", "firing", OLD), _alert("nps", "resolved", OLD + 60),
                          _alert("nps", "firing", YOUNG), _alert("nps", "resolved", YOUNG + 60),
                          _alert("csat", "firing", OLD),  # firing for a year: kept
                          _alert("ces", "firing", OLD), _alert("ces", "resolved", OLD + 60)],
               ALERT_COLUMNS)
    own.insert("incidents", [_incident("i-old", "open", OLD - 60, 1)], STORED_COLUMNS)
    own.insert("incidents", [_incident("i-old", "resolved", OLD, 2),
                             _incident("i-open", "open", OLD, 1),
                             _incident("i-young", "resolved", YOUNG, 2)], STORED_COLUMNS)


def _left(own: Warehouse) -> dict[str, list[tuple[object, ...]]]:
    db = own.database
    return {
        "deadletters": [(r["offset"],) for r in own.query(
            f"SELECT offset FROM {db}.deadletters ORDER BY offset")],
        "notifications": [(r["event_id"],) for r in own.query(
            f"SELECT event_id FROM {db}.notifications ORDER BY event_id")],
        "followup_cases": [(r["feedback_id"], int(r["version"])) for r in own.query(
            f"SELECT feedback_id, version FROM {db}.followup_cases ORDER BY feedback_id, "
            "version")],
        "alerts": [(r["metric"], r["state"]) for r in own.query(
            f"SELECT metric, state FROM {db}.alerts ORDER BY metric, at")],
        "incidents": [(r["id"], int(r["version"])) for r in own.query(
            f"SELECT id, version FROM {db}.incidents ORDER BY id, version")]}


@pytest.mark.integration
def test_every_table_loses_its_old_rows_and_keeps_open_cases_alerts_and_incidents(
        warehouse: Warehouse) -> None:
    own = OwnDatabase(warehouse, "retention_rows")
    try:
        migrate(own)
        _fill(own)
        days = days_per_table({}, None)
        dry = prune(own, days, now_s=NOW_S, dry_run=True)
        assert dry.months == {}  # CX_RETENTION_DAYS unset: the event tables are kept
        assert dry.rows == {"deadletters": 1, "notifications": 1, "followup_cases": 2,
                            "alerts": 4, "incidents": 1}
        assert len(_left(own)["deadletters"]) == 2  # a dry run deletes nothing
        assert prune(own, days, now_s=NOW_S).rows == dry.rows
        assert _left(own) == {
            "deadletters": [(2,)], "notifications": [("young",)],
            "followup_cases": [("met-young", 5), ("open-old", 0)],
            "alerts": [("csat", "firing"), ("nps", "firing"), ("nps", "resolved")],
            "incidents": [("i-open", 1), ("i-young", 2)]}
        assert prune(own, days, now_s=NOW_S).rows == {}  # nothing left to forget
        # A table set to off keeps everything; a shorter one forgets more.
        shorter = days_per_table({"deadletters": 1, "incidents": None}, None)
        assert prune(own, shorter, now_s=NOW_S).rows == {"deadletters": 1}
    finally:
        own.close()


@pytest.mark.integration
def test_the_rules_cover_exactly_the_tables_a_migrated_database_has(
        warehouse: Warehouse) -> None:
    own = OwnDatabase(warehouse, "retention_tables")
    try:
        migrate(own)
        tables = {row["name"] for row in own.query(
            f"SELECT name, engine FROM system.tables WHERE database = '{own.database}'")
            if row["engine"] != "View"}
        assert tables == set(RULES)
        for table, rule in RULES.items():  # each rule's time column exists, as a time
            kind = own.query(f"SELECT type FROM system.columns WHERE database = "
                             f"'{own.database}' AND table = '{table}' AND name = '{rule.column}'")
            assert kind and "DateTime" in kind[0]["type"], (table, rule.column)
    finally:
        own.close()


@pytest.mark.integration
def test_many_closed_cases_go_in_mutations_that_fit_the_query_size(warehouse: Warehouse) -> None:
    own = OwnDatabase(warehouse, "retention_many")
    try:
        migrate(own)
        many = 12_000  # ids of 40 characters: more than 256 KiB of keys, several mutations
        own.insert("followup_cases", [_case(f"{i:040d}", OLD, met=True, version=5)
                                      for i in range(many)]
                   + [_case("open-old", OLD, met=False, version=0)], CASE_COLUMNS)
        done = prune(own, days_per_table({}, None), now_s=NOW_S)
        assert done.rows == {"followup_cases": many}
        assert _left(own)["followup_cases"] == [("open-old", 0)]
    finally:
        own.close()
