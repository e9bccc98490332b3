"""Revisions on both engines: for one event id the highest revision wins everywhere.

Each step writes a batch the way the worker does (raw rows, then facts and cases);
the expected minutes are computed here from the latest revision of each event, and
``cxpulse verify``'s recomputation must agree, whatever order the revisions came in.
"""

from __future__ import annotations

import itertools
import time

import orjson
import pytest

from streams.comments.enrichment import Enriched
from streams.comments.labels import Insight
from streams.core.contract import TOPIC_OF_TYPE, Validator, parse_timestamp
from streams.core.rows import COLUMNS, Batch, Record
from streams.core.stats import (
    STAT_COLUMNS,
    Stats,
    feedback_stats,
    followup_stats,
    minute_of,
    needs_followup,
)
from streams.queries.cases import unmet_cases
from streams.queries.comments import recent_comments, store_insights
from streams.queries.scoring import rewrite_minutes, score_batch
from streams.queries.verify import differences
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.events import stamp

pytestmark = pytest.mark.integration

HOUR = 3600
DEADLINE_MS = 48 * HOUR * 1000
NOW = 1_795_344_000.0
NOW_MS = int(NOW * 1000)
VALIDATOR = Validator(max_event_bytes=65536, max_age_seconds=10**9)


class Tenant:
    """A tenant of its own, written to as the worker writes."""

    def __init__(self, warehouse: Warehouse, tag: str = "") -> None:
        migrate(warehouse)
        self.warehouse = warehouse
        self.name = f"r{tag}{time.monotonic_ns()}"

    def feedback(self, key: str, revision: int, hours_ago: float, score: int,
                 touchpoint: str = "checkout", **fields) -> dict:
        event = {"event_id": f"{self.name}-{key}", "type": "feedback", "tenant": self.name,
                 "occurred_at": stamp(NOW - hours_ago * HOUR), "channel": "web",
                 "touchpoint": touchpoint, "survey": "nps", "score": score} | fields
        return event | ({"revision": revision} if revision else {})

    def followup(self, key: str, feedback: str, hours_ago: float) -> dict:
        return {"event_id": f"{self.name}-{key}", "type": "followup", "tenant": self.name,
                "occurred_at": stamp(NOW - hours_ago * HOUR), "channel": "voice",
                "feedback_id": f"{self.name}-{feedback}", "action": "contacted"}

    def write(self, *events: dict, merge: bool = False) -> None:
        """A batch as the worker writes it; ``merge``: the raw table's parts merge (older
        revisions vanish from it) between the raw rows and scoring's lookup."""
        batch = Batch()
        for offset, event in enumerate(events):
            topic = TOPIC_OF_TYPE[event["type"]]
            batch.add_event(VALIDATOR.check(orjson.dumps(event), topic, NOW),
                            Record(topic, 0, offset), int(NOW))
        for table, rows in batch.rows.items():
            self.warehouse.insert(table, rows, COLUMNS[table])
        if merge:
            self.warehouse.execute(f"OPTIMIZE TABLE {self.warehouse.database}.feedback FINAL")
        score_batch(self.warehouse, batch.accepted, DEADLINE_MS)

    def minutes(self) -> dict[tuple, Stats]:
        """Stored minutes of this tenant that count anything."""
        found = {(row["channel"], row["touchpoint"], int(row["minute"])):
                 Stats(**{name: int(row[name]) for name in STAT_COLUMNS})
                 for row in self.warehouse.query(
                     f"SELECT channel, touchpoint, toUnixTimestamp(minute) AS minute, "
                     f"{', '.join(STAT_COLUMNS)} FROM {self.warehouse.database}.score_minutes "
                     f"FINAL WHERE tenant = '{self.name}'")}
        return {key: stats for key, stats in found.items() if stats != Stats()}

    def exact(self) -> bool:
        return not [d for d in differences(self.warehouse, DEADLINE_MS)
                    if d["scope"][0] == self.name]

    def raw_revision(self, key: str) -> list[int]:
        return [int(row["revision"]) for row in self.warehouse.query(
            f"SELECT revision FROM {self.warehouse.database}.feedback FINAL "
            f"WHERE event_id = '{self.name}-{key}'")]

    def unmet(self) -> dict[str, dict]:
        return {row["feedback_id"].removeprefix(f"{self.name}-"): row
                for row in unmet_cases(self.warehouse, now_ms=NOW_MS, tenant=self.name)}


def expected(latest: list[dict], met: set[str] = frozenset()) -> dict[tuple, Stats]:
    """The minutes of these latest revisions (follow-ups met for the ids in ``met``)."""
    minutes: dict[tuple, Stats] = {}
    for event in latest:
        at_ms = parse_timestamp(event["occurred_at"])[0]
        stats = feedback_stats("nps", event["score"], 0)
        if needs_followup("nps", event["score"], 0):
            stats += followup_stats(at_ms, event["event_id"] in met)
        key = (event["channel"], event["touchpoint"], minute_of(at_ms) // 1000)
        minutes[key] = minutes.get(key, Stats()) + stats
    return minutes


def three_revisions(t: Tenant) -> list[dict]:
    """A detractor, then one at another minute, then a promoter at another touchpoint."""
    return [t.feedback("a", 0, 5, 3, comment="slow"), t.feedback("a", 1, 4.5, 5),
            t.feedback("a", 2, 4.5, 9, touchpoint="delivery")]


@pytest.mark.parametrize("order", [*itertools.permutations(range(3)), (1, 0, 1, 2, 0),
                                   (2, 2, 0, 1, 1)])
def test_revisions_in_any_order_and_duplicates_end_on_the_highest(
        warehouse: Warehouse, order: tuple[int, ...]) -> None:
    t = Tenant(warehouse)
    revisions = three_revisions(t)
    for index in order:
        t.write(revisions[index])
    assert t.raw_revision("a") == [2]
    assert t.minutes() == expected([revisions[2]])
    assert t.exact()
    assert t.unmet() == {}  # the promoter needs no call: an older revision's case is withdrawn


def test_an_older_revision_merged_away_from_the_raw_table_still_gets_its_tombstone(
        warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    first, second, third = three_revisions(t)
    t.write(first)
    t.write(second, merge=True)
    assert warehouse.query(f"SELECT count() AS n FROM {warehouse.database}.feedback "
                           f"WHERE event_id = '{first['event_id']}'")[0]["n"] == 1
    assert t.minutes() == expected([second])
    t.write(first, merge=True)  # a replay of the oldest, after the merge
    t.write(third, merge=True)
    assert t.minutes() == expected([third])
    assert t.exact()


def test_revisions_in_one_batch_and_a_stale_revision_later(warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    revisions = three_revisions(t)
    t.write(*revisions[::-1])
    t.write(revisions[0])  # stale: writes the winner's facts again, never its own
    assert t.minutes() == expected([revisions[2]])
    assert t.exact()


def test_bad_to_good_withdraws_the_case_and_good_to_bad_opens_it(warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    t.write(t.feedback("bad", 0, 10, 2), t.feedback("good", 0, 10, 10))
    assert set(t.unmet()) == {"bad"}
    t.write(t.feedback("bad", 1, 10, 9), t.feedback("good", 1, 10, 1, comment="refund"))
    cases = t.unmet()
    assert set(cases) == {"good"} and cases["good"]["score"] == 1
    assert cases["good"]["comment"] == "refund"
    stored = {row["feedback_id"].removeprefix(f"{t.name}-"): (int(row["withdrawn"]),
                                                             int(row["revision"]))
              for row in warehouse.query(
                  f"SELECT feedback_id, withdrawn, revision FROM {warehouse.database}."
                  f"followup_cases FINAL WHERE tenant = '{t.name}'")}
    assert stored == {"bad": (1, 1), "good": (0, 1)}
    assert t.exact()


@pytest.mark.parametrize("followup_first", [True, False])
def test_a_follow_up_meets_the_latest_revision_whenever_it_comes(
        warehouse: Warehouse, followup_first: bool) -> None:
    t = Tenant(warehouse)
    first, second = t.feedback("f", 0, 30, 4), t.feedback("f", 1, 20, 2, touchpoint="search")
    followup = t.followup("u", "f", 10)
    steps = [[followup], [first], [second]] if followup_first else [[first], [second],
                                                                    [followup]]
    for step in steps:
        t.write(*step)
    assert t.unmet() == {}
    met = warehouse.query(f"SELECT toUnixTimestamp(met_at) AS met, revision, touchpoint "
                          f"FROM {warehouse.database}.followup_cases FINAL "
                          f"WHERE tenant = '{t.name}'")
    assert [(int(row["met"]), int(row["revision"]), row["touchpoint"]) for row in met] == [
        (int(NOW) - 10 * HOUR, 1, "search")]
    assert t.minutes() == expected([second], met={second["event_id"]})
    assert t.exact()


def test_a_follow_up_between_revisions_counts_for_the_winner(warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    t.write(t.feedback("f", 1, 20, 3))
    t.write(t.followup("u", "f", 19))
    t.write(t.feedback("f", 0, 30, 6))  # stale, arriving last
    winner = t.feedback("f", 1, 20, 3)
    assert t.minutes() == expected([winner], met={winner["event_id"]})
    assert t.exact()


def insight(sentiment: float) -> Insight:
    return Insight("en", sentiment, "negative" if sentiment < 0 else "positive", "neutral",
                   ("delivery",))


def enriched(event: dict, sentiment: float | None) -> Enriched:
    at_ms = parse_timestamp(event["occurred_at"])[0]
    return Enriched(event["event_id"], (event["tenant"], event["channel"], event["touchpoint"]),
                    at_ms, "", event.get("comment", ""),
                    None if sentiment is None else insight(sentiment), event.get("revision", 0))


def test_a_revision_without_a_comment_withdraws_the_older_comment(warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    first, second = t.feedback("c", 0, 3, 2, comment="late again"), t.feedback("c", 1, 3, 8)
    t.write(first)
    rewrite_minutes(warehouse, store_insights(warehouse, [enriched(first, -0.8)], "m1"))
    assert sum(t.minutes().values(), Stats()).comments == 1
    t.write(second)
    rewrite_minutes(warehouse, store_insights(warehouse, [enriched(second, None)], "m1"))
    # The older revision enriched again later (a replay) changes nothing.
    rewrite_minutes(warehouse, store_insights(warehouse, [enriched(first, -0.8)], "m1",
                                              now_s=int(time.time()) + 60))
    assert sum(t.minutes().values(), Stats()).comments == 0
    assert recent_comments(warehouse, tenant=t.name) == []
    assert t.exact()


def test_the_highest_revisions_comment_wins_in_any_order(warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    first = t.feedback("c", 0, 3, 2, comment="awful")
    second = t.feedback("c", 1, 2, 9, comment="sorted out, thanks", touchpoint="returns")
    t.write(second)
    rewrite_minutes(warehouse, store_insights(warehouse, [enriched(second, 0.9)], "m1"))
    t.write(first)  # stale revision, enriched after the winner with a newer enriched_at
    rewrite_minutes(warehouse, store_insights(warehouse, [enriched(first, -0.9)], "m1",
                                              now_s=int(time.time()) + 60))
    listed = recent_comments(warehouse, tenant=t.name)
    assert [(c["comment"], c["touchpoint"]) for c in listed] == [("sorted out, thanks",
                                                                  "returns")]
    totals = sum(t.minutes().values(), Stats())
    assert (totals.comments, totals.sentiment_sum, totals.nps_promoters) == (1, 900, 1)
    assert t.exact()


def test_a_comment_left_at_a_minute_a_revision_moved_from_stops_counting(
        warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    first = t.feedback("m", 0, 3, 7, comment="meh")
    second = t.feedback("m", 1, 1, 7, comment="meh, but arrived")
    t.write(first)
    rewrite_minutes(warehouse, store_insights(warehouse, [enriched(first, -0.1)], "m1"))
    t.write(second)  # moved: the ingest leaves tombstones at the old minute
    assert sum(t.minutes().values(), Stats()).comments == 0
    assert t.exact()
    rewrite_minutes(warehouse, store_insights(warehouse, [enriched(second, 0.4)], "m1"))
    minutes = t.minutes()
    assert [stats.comments for stats in minutes.values()] == [1]
    assert t.exact()
