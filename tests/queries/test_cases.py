"""Follow-up cases on both engines: exact under duplicates, replays and any arrival order.

Each step writes a batch the way the worker does (raw rows, then facts and cases
from one lookup); the expected cases follow from the events by the SLA rule.
"""

from __future__ import annotations

import time

import orjson
import pytest

from streams.core.contract import TOPIC_OF_TYPE, Validator
from streams.core.rows import COLUMNS, Batch, Record
from streams.queries.cases import notified, record_notified, unmet_cases
from streams.queries.scoring import score_batch
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
    """A tenant of its own per test, and the worker's write path for its events."""

    def __init__(self, warehouse: Warehouse) -> None:
        migrate(warehouse)
        self.warehouse = warehouse
        self.name = f"t{time.monotonic_ns()}"

    def feedback(self, key: str, hours_ago: float, survey: str = "nps", score: int = 2,
                 **fields) -> dict:
        return {"event_id": f"{self.name}-{key}", "type": "feedback", "tenant": self.name,
                "occurred_at": stamp(NOW - hours_ago * HOUR, 60), "channel": "chat",
                "survey": survey, "score": score, "customer_id": f"c-{key}",
                "comment": f"comment {key}"} | fields

    def followup(self, key: str, feedback: str, hours_ago: float,
                 action: str = "contacted") -> dict:
        return {"event_id": f"{self.name}-{key}", "type": "followup", "tenant": self.name,
                "occurred_at": stamp(NOW - hours_ago * HOUR), "channel": "voice",
                "feedback_id": f"{self.name}-{feedback}", "action": action}

    def write(self, *events: dict) -> None:
        batch = Batch()
        for offset, event in enumerate(events):
            topic = TOPIC_OF_TYPE[event["type"]]
            batch.add_event(VALIDATOR.check(orjson.dumps(event), topic, NOW),
                            Record(topic, 0, offset), int(NOW))
        for table, rows in batch.rows.items():
            self.warehouse.insert(table, rows, COLUMNS[table])
        score_batch(self.warehouse, batch.accepted, DEADLINE_MS)

    def cases(self, **filters) -> dict[str, dict]:
        return {row["feedback_id"].removeprefix(f"{self.name}-"): row
                for row in unmet_cases(self.warehouse, now_ms=NOW_MS, tenant=self.name,
                                       **filters)}

    def stored(self) -> dict[str, tuple]:
        """Every case as kept (FINAL): (met_at as epoch seconds or None, action, version)."""
        return {row["feedback_id"].removeprefix(f"{self.name}-"):
                (None if row["met"] is None else int(row["met"]), row["followup_action"],
                 int(row["version"]))
                for row in self.warehouse.query(
                    f"SELECT feedback_id, toUnixTimestamp(met_at) AS met, followup_action, "
                    f"version FROM {self.warehouse.database}.followup_cases FINAL "
                    f"WHERE tenant = '{self.name}'")}

    def scores_exact(self) -> bool:
        return not [d for d in differences(self.warehouse, DEADLINE_MS)
                    if d["scope"][0] == self.name]


def test_cases_list_what_needs_a_call_oldest_first(warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    t.write(t.feedback("old", 72, comment="never again"), t.feedback("new", 1),
            t.feedback("met", 60), t.feedback("late", 70, survey="ces", score=3),
            t.feedback("happy", 80, score=9, comment="refund"),
            t.feedback("csat", 50, survey="csat", score=4, scale=10),
            t.followup("u1", "met", 30), t.followup("u2", "late", 10),
            t.followup("u3", "new", 0.5, action="no_action"))
    cases = t.cases()
    assert list(cases) == ["old", "late", "csat", "new"]  # met and happy: no call needed
    old = cases["old"]
    assert old == {
        "tenant": t.name, "channel": "chat", "touchpoint": "unspecified",
        "feedback_id": f"{t.name}-old", "customer_id": "c-old", "survey": "nps", "score": 2,
        "scale": None, "comment": "never again", "opened_at": "2026-11-19T10:40:00.000Z",
        "due_at": "2026-11-21T10:40:00.000Z", "state": "overdue",
        "overdue_seconds": 24 * HOUR}
    assert (cases["new"]["state"], cases["new"]["overdue_seconds"]) == ("open", None)
    assert cases["csat"]["scale"] == 10 and cases["csat"]["state"] == "overdue"
    assert list(t.cases(overdue_only=True)) == ["old", "late", "csat"]
    assert t.stored()["met"] == (int(NOW) - 30 * HOUR, "contacted", t.stored()["met"][2])
    assert set(t.stored()) == {"old", "new", "met", "late", "csat"}
    assert t.scores_exact()
    assert unmet_cases(warehouse, now_ms=NOW_MS, tenant=f"{t.name}-nobody") == []


def test_duplicates_and_replays_change_nothing(warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    events = [t.feedback("a", 60), t.feedback("b", 60), t.followup("u", "a", 50)]
    t.write(*events)
    first = (t.cases(), t.stored())
    t.write(*events, *events)  # a replay with producer duplicates in one batch
    t.write(events[2])
    assert (t.cases(), t.stored()) == first
    assert list(first[0]) == ["b"]
    assert t.scores_exact()


def test_follow_up_before_its_feedback_meets_the_case(warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    t.write(t.followup("u", "a", 5, action="resolved"))  # its feedback not stored yet
    assert t.stored() == {}
    t.write(t.feedback("a", 10))
    assert t.cases() == {}
    assert t.stored()["a"][:2] == (int(NOW) - 5 * HOUR, "resolved")
    assert t.scores_exact()


def test_an_earlier_follow_up_arriving_later_wins(warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    t.write(t.feedback("a", 40), t.feedback("b", 40))
    t.write(t.followup("late", "a", 10), t.followup("b-late", "b", 1))
    met_late = t.stored()["a"]
    assert met_late[:2] == (int(NOW) - 10 * HOUR, "contacted")
    assert t.stored()["b"][:2] == (int(NOW) - 1 * HOUR, "contacted")
    t.write(t.followup("early", "a", 30, action="resolved"))
    assert t.stored()["a"][:2] == (int(NOW) - 30 * HOUR, "resolved")
    t.write(t.followup("late", "a", 10))  # the later one replayed: the earlier still wins
    assert t.stored()["a"][:2] == (int(NOW) - 30 * HOUR, "resolved")
    assert t.cases() == {}
    assert t.scores_exact()


def test_a_late_follow_up_leaves_the_case_overdue_until_one_in_time_arrives(
        warehouse: Warehouse) -> None:
    t = Tenant(warehouse)
    t.write(t.feedback("a", 60), t.followup("too-late", "a", 1))  # 59 h after: late
    assert t.cases()["a"]["state"] == "overdue"
    assert t.stored()["a"] == (None, "", 0)
    t.write(t.followup("in-time", "a", 20))
    assert t.cases() == {}
    assert t.stored()["a"][:2] == (int(NOW) - 20 * HOUR, "contacted")
    assert t.scores_exact()


def test_notifications_are_recorded_by_event_id_and_revision(warehouse: Warehouse) -> None:
    migrate(warehouse)
    ids = [f"n{time.monotonic_ns()}-{i}" for i in range(3)]
    assert notified(warehouse, ids) == {}
    record_notified(warehouse, [(ids[0], 0, "case_opened", b'{"a": 1}'),
                                (ids[2], 0, "case_opened", b"{}")])
    record_notified(warehouse, [(ids[0], 0, "case_opened", b'{"a": 1}')])
    assert notified(warehouse, ids) == {ids[0]: (0, "case_opened"), ids[2]: (0, "case_opened")}
    record_notified(warehouse, [(ids[2], 3, "case_withdrawn", b"{}"),
                                (ids[2], 1, "case_updated", b"{}")])
    assert notified(warehouse, ids)[ids[2]] == (3, "case_withdrawn")
    warehouse.execute(f"OPTIMIZE TABLE {warehouse.database}.notifications FINAL")
    rows = warehouse.query(f"SELECT count() AS n FROM {warehouse.database}.notifications "
                           f"WHERE event_id = '{ids[2]}'")
    assert int(rows[0]["n"]) == 3  # one row per revision, kept apart by the sorting key
