"""Upgrading a database that holds data: partitioned tables and rollups give the old answers."""

from __future__ import annotations

import time

import pytest

from streams.core.contract import TOPIC_OF_TYPE, Validator
from streams.core.facts import FACT_COLUMNS
from streams.core.ingest import build_batch
from streams.core.rows import COLUMNS, Record
from streams.core.scores import followups_due, window_total
from streams.core.stats import STAT_COLUMNS, Stats
from streams.queries.scoring import batch_facts
from streams.queries.verify import differences, stored_minutes
from streams.queries.windows import scope_totals
from streams.tools.generate import TrafficSpec, generate
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.databases import OwnDatabase

pytestmark = pytest.mark.integration

DEADLINE_MS = 48 * 3_600_000
NOW_S = int(time.time()) // 60 * 60


OLD_STATS = STAT_COLUMNS[:STAT_COLUMNS.index("comments")]
"""The statistics before 009 added the comment counters."""


class OldFeedback:
    """A warehouse whose feedback table has no ``revision`` yet (before 010): scoring's
    lookup reads 0 there."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._inner = warehouse

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def query(self, sql: str):
        if "feedback_revisions" in sql:
            return []
        return self._inner.query(
            sql.replace("comment, revision FROM", "comment, 0 AS revision FROM")
            .replace("ORDER BY event_id, revision DESC", ""))


def load_old_way(warehouse: Warehouse, events: list[dict]) -> None:
    """What a worker of schema 005 wrote: raw rows, facts, minutes (no rollups then), with the
    statistics of its day (``OLD_STATS``)."""
    import orjson

    validator = Validator(max_event_bytes=1 << 20, max_age_seconds=365 * 86400)
    records = [Record(TOPIC_OF_TYPE[e["type"]], 0, i, orjson.dumps(e))
               for i, e in enumerate(events)]
    batch = build_batch(records, validator, time.time())
    for table, rows in batch.rows.items():
        if table == "feedback_revisions":  # 010 added it
            continue
        columns = COLUMNS[table]
        if "revision" in columns:  # 010 added it
            at = columns.index("revision")
            columns, rows = (columns[:at] + columns[at + 1:],
                             [row[:at] + row[at + 1:] for row in rows])
        warehouse.insert(table, rows, columns)
    facts, _ = batch_facts(OldFeedback(warehouse), batch.accepted, DEADLINE_MS)
    width = FACT_COLUMNS.index(OLD_STATS[-1]) + 1
    warehouse.insert("score_facts", [fact[:width] for fact in facts], FACT_COLUMNS[:width])
    minutes: dict[tuple, Stats] = {}
    counts: dict[tuple, int] = {}
    for fact in facts:
        key = fact[:4]
        minutes[key] = minutes.get(key, Stats()) + Stats(*fact[5:5 + len(STAT_COLUMNS)])
        counts[key] = counts.get(key, 0) + 1
    warehouse.insert("score_minutes", [
        (*key, *(getattr(stats, column) for column in OLD_STATS),
         counts[key] + stats.followup_met, 0) for key, stats in minutes.items()],
        ("tenant", "channel", "touchpoint", "minute", *OLD_STATS, "version", "computed_at"))


def old_minutes(warehouse: Warehouse) -> dict[tuple, Stats]:
    """``stored_minutes`` as a reader of schema 005 sees them (``OLD_STATS`` only)."""
    return {(row["tenant"], row["channel"], row["touchpoint"], int(row["minute"])):
            Stats(**{column: int(row[column]) for column in OLD_STATS})
            for row in warehouse.query(
                f"SELECT tenant, channel, touchpoint, toUnixTimestamp(minute) AS minute, "
                f"{', '.join(OLD_STATS)} FROM {warehouse.database}.score_minutes FINAL")}


def raw_counts(warehouse: Warehouse) -> dict[str, int]:
    return {table: int(warehouse.query(
        f"SELECT count() AS n FROM {warehouse.database}.{table} FINAL")[0]["n"])
        for table in ("interactions", "feedback", "followups", "score_facts")}


def test_upgrade_carries_every_row_and_answers_as_before(warehouse: Warehouse) -> None:
    own = OwnDatabase(warehouse, "upgrade")
    try:
        assert migrate(own, until="005_followup_cases")[-1] == "005_followup_cases"
        spec = TrafficSpec(seed=4, start=NOW_S - 40 * 86400, duration=40 * 86400 - 600,
                           rate=0.004)
        events = list(generate(spec))
        load_old_way(own, events)
        before_minutes, before_raw = old_minutes(own), raw_counts(own)
        assert len(before_minutes) > 1000
        applied = migrate(own)
        assert applied[:2] == ["006_partitions", "007_rollups"]
        assert stored_minutes(own) == before_minutes
        assert raw_counts(own) == before_raw
        assert differences(own, DEADLINE_MS) == []
        months = {row["partition"] for row in own.query(
            "SELECT DISTINCT partition FROM system.parts WHERE active AND "
            f"database = '{own.database}' AND table = 'score_minutes'")}
        assert len(months) >= 2 and all(len(str(month)) == 6 for month in months)
        by_scope: dict[tuple, list[tuple[int, Stats]]] = {}
        for (*scope, minute), stats in before_minutes.items():
            by_scope.setdefault(tuple(scope), []).append((minute * 1000, stats))
        for window_s in (3600, 86400 + 1800, 7 * 86400, 35 * 86400):
            got = scope_totals(own, NOW_S * 1000, window_s * 1000, DEADLINE_MS, {})
            for scope, minutes in by_scope.items():
                want = (window_total(minutes, NOW_S * 1000, window_s * 1000),
                        followups_due(minutes, NOW_S * 1000, window_s * 1000, DEADLINE_MS))
                if want[0] != Stats():
                    assert got[scope] == want, (scope, window_s)
    finally:
        own.close()


def test_upgrade_to_comment_statistics_keeps_the_minutes_and_counts_comments(
        warehouse: Warehouse) -> None:
    from streams.comments.enrichment import Enriched
    from streams.comments.labels import Insight
    from streams.core.contract import parse_timestamp
    from streams.queries.comments import store_insights
    from streams.queries.scoring import rewrite_minutes

    own = OwnDatabase(warehouse, "upgrade_comments")
    try:
        migrate(own, until="005_followup_cases")
        spec = TrafficSpec(seed=6, start=NOW_S - 3 * 86400, duration=3 * 86400 - 600,
                           rate=0.02)
        events = list(generate(spec))
        load_old_way(own, events)
        assert migrate(own, until="008_views")[-1] == "008_views"  # 007 builds the rollups
        before = old_minutes(own)
        assert migrate(own, until="009_comments") == ["009_comments"]
        after = stored_minutes(own)
        assert after == before and all(stats.comments == 0 for stats in after.values())
        commented = [e for e in events if e["type"] == "feedback" and e.get("comment")]
        assert commented
        assert migrate(own, until="010_revisions") == ["010_revisions"]
        items = [Enriched(e["event_id"], (e["tenant"], e["channel"],
                                          e.get("touchpoint", "unspecified")),
                          parse_timestamp(e["occurred_at"])[0], e.get("locale", ""),
                          e["comment"], Insight("en", -0.25, "negative", "anger", ("price",)))
                 for e in commented]
        rewrite_minutes(own, store_insights(own, items, "m1"))
        assert differences(own, DEADLINE_MS) == []
        totals = sum(stored_minutes(own).values(), Stats())
        assert (totals.comments, totals.sentiment_sum, totals.theme_price) == (
            len(items), -250 * len(items), len(items))
        assert totals.nps_n == sum(stats.nps_n for stats in before.values())
    finally:
        own.close()


def test_upgrade_to_revisions_keeps_every_answer_and_takes_revisions(
        warehouse: Warehouse) -> None:
    import orjson

    from streams.core.cases import CASE_COLUMNS
    from streams.queries.cases import unmet_cases
    from streams.queries.scoring import rewrite_rollups, score_batch

    own = OwnDatabase(warehouse, "upgrade_revisions")
    try:
        migrate(own, until="009_comments")
        spec = TrafficSpec(seed=8, start=NOW_S - 3 * 86400, duration=3 * 86400 - 600,
                           rate=0.02)
        events = list(generate(spec))
        load_old_way(own, events)
        rewrite_rollups(own, set(stored_minutes(own)))  # a worker of 007 on writes them
        validator = Validator(max_event_bytes=1 << 20, max_age_seconds=365 * 86400)
        batch = build_batch([Record(TOPIC_OF_TYPE[e["type"]], 0, i, orjson.dumps(e))
                             for i, e in enumerate(events)], validator, time.time())
        _, cases = batch_facts(OldFeedback(own), batch.accepted, DEADLINE_MS)
        assert cases
        own.insert("followup_cases", [case[:-2] for case in cases], CASE_COLUMNS[:-2])
        own.insert("comment_insights", [("fb-x", "acme", "web", "checkout", NOW_S, 5, "en",
                                         "late", "en", -0.5, "negative", "sadness", ["delivery"],
                                         "m1", NOW_S - 60)],
                   ("event_id", "tenant", "channel", "touchpoint", "occurred_at",
                    "occurred_ms", "locale", "comment", "language", "sentiment", "label",
                    "emotion", "themes", "model_version", "enriched_at"))
        before, before_raw = stored_minutes(own), raw_counts(own)
        assert migrate(own, until="010_revisions") == ["010_revisions"]
        assert stored_minutes(own) == before and raw_counts(own) == before_raw
        insight = own.query(f"SELECT revision, version, toUnixTimestamp(enriched_at) AS at "
                            f"FROM {own.database}.comment_insights FINAL")
        assert [(row["revision"], row["version"]) for row in insight] == [(0, NOW_S - 60)]
        own.execute(f"TRUNCATE TABLE {own.database}.comment_insights")
        assert differences(own, DEADLINE_MS) == []
        kept = own.query(f"SELECT count() AS n, sum(revision) AS r, sum(withdrawn) AS w "
                         f"FROM {own.database}.followup_cases FINAL")[0]
        assert (int(kept["n"]), int(kept["r"]), int(kept["w"])) == (len(cases), 0, 0)
        unmet = unmet_cases(own, now_ms=NOW_S * 1000)
        assert unmet and len(unmet) <= len(cases)
        # The first unmet case's feedback is amended to a promoter: its case is withdrawn and
        # the scores stay exact.
        target = next(e for e in events if e["event_id"] == unmet[0]["feedback_id"])
        amended = {**target, "survey": "nps", "score": 10, "revision": 1}
        amended.pop("scale", None)
        batch = build_batch([Record("cx.feedback", 0, 0, orjson.dumps(amended))], validator,
                            time.time())
        for table, rows in batch.rows.items():
            own.insert(table, rows, COLUMNS[table])
        score_batch(own, batch.accepted, DEADLINE_MS)
        assert differences(own, DEADLINE_MS) == []
        assert target["event_id"] not in {
            case["feedback_id"] for case in unmet_cases(own, now_ms=NOW_S * 1000)}
    finally:
        own.close()
