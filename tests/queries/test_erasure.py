"""Erasure on both engines: one customer gone from every table, the scores exact without them.

Several customers' traffic (revisions, comments, follow-ups, cases, notifications, dead
letters) is written as the worker writes it, into a database of its own; a second
database gets the same traffic without the erased customer: after ``forget`` the first
must hold what the second holds, minute, hour and day, and no String anywhere may name
the customer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest

from streams.comments.enrichment import Enriched
from streams.comments.labels import Insight
from streams.core.contract import TOPIC_OF_TYPE, Validator, parse_timestamp
from streams.core.rows import COLUMNS, Batch, Record
from streams.core.stats import STAT_COLUMNS
from streams.queries import erasure
from streams.queries.cases import record_notified
from streams.queries.comments import store_insights
from streams.queries.erasure import (
    ERASED_TABLES,
    delete,
    find,
    forget,
    wait_for_mutations,
)
from streams.queries.scoring import MINUTE_COLUMNS, rewrite_minutes, score_batch
from streams.queries.verify import differences
from streams.warehouse import Warehouse, WarehouseError
from streams.warehouse.migrate import migrate
from tests.support.databases import OwnDatabase, string_values
from tests.support.events import stamp

pytestmark = pytest.mark.integration

HOUR = 3600
DEADLINE_MS = 48 * HOUR * 1000
NOW = 1_795_344_000.0
VALIDATOR = Validator(max_event_bytes=65536, max_age_seconds=10**9)
TENANT = "forget-shop"


@pytest.fixture
def pair(warehouse: Warehouse) -> Iterator[tuple[Warehouse, Warehouse]]:
    """Two fresh databases on the engine: the one erased from, and the reference."""
    own, reference = OwnDatabase(warehouse, "erased"), OwnDatabase(warehouse, "reference")
    try:
        migrate(own)
        migrate(reference)
        yield own, reference
    finally:
        own.close()
        reference.close()


def traffic(target: str) -> list[list[dict]]:
    """Batches of events of three customers: the target shares some minutes with the
    others and has one to itself; its feedback is revised (to another minute, with a
    comment), followed up, and one of its follow-ups meets another customer's feedback."""
    def event(type_: str, key: str, who: str, minutes_ago: float, **fields) -> dict:
        return {"event_id": key, "type": type_, "tenant": TENANT,
                "occurred_at": stamp(NOW - minutes_ago * 60), "channel": "web",
                "touchpoint": "checkout", "customer_id": who} | fields

    batches = []
    for who, tag in ((target, "t"), ("keep-a", "a"), ("keep-b", "b")):
        batches.append([
            event("interaction", f"{tag}-in1", who, 300, kind="visit"),
            event("interaction", f"{tag}-in2", who, 240, kind="purchase", outcome="failure"),
            event("feedback", f"{tag}-nps", who, 200, survey="nps", score=3),
            event("feedback", f"{tag}-csat", who, 180, survey="csat", score=5,
                  comment=f"great, says {tag}"),
        ])
        batches.append([
            event("feedback", f"{tag}-nps", who, 190, survey="nps", score=2,
                  comment=f"refund now, says {tag}", revision=1),
            event("followup", f"{tag}-fu", who, 100, feedback_id=f"{tag}-nps",
                  action="contacted"),
        ])
    # Alone in its minute; and a follow-up carrying the target's id that meets keep-b's
    # detractor (the only one meeting it once the target's own is gone).
    batches.append([event("interaction", "t-alone", target, 50, kind="search",
                          touchpoint="search"),
                    event("feedback", "b-ces", "keep-b", 400, survey="ces", score=2),
                    event("followup", "t-fu-b", target, 350, feedback_id="b-ces",
                          action="resolved")])
    return batches


def write(warehouse: Warehouse, batches: list[list[dict]], skip: str | None = None) -> None:
    """Every batch as the worker writes it, then the comments' insights, the notifications
    and dead letters; without the events of the customer ``skip``."""
    commented = []
    for offset, events in enumerate(batches):
        batch = Batch()
        for event in events:
            if event.get("customer_id") == skip:
                continue
            topic = TOPIC_OF_TYPE[event["type"]]
            batch.add_event(VALIDATOR.check(orjson.dumps(event), topic, NOW),
                            Record(topic, 0, offset), int(NOW))
            if event.get("comment"):
                commented.append(event)
        for table, rows in batch.rows.items():
            warehouse.insert(table, rows, COLUMNS[table])
        score_batch(warehouse, batch.accepted, DEADLINE_MS)
    latest = {event["event_id"]: event for event in sorted(
        commented, key=lambda event: event.get("revision", 0))}
    rewrite_minutes(warehouse, store_insights(warehouse, [
        Enriched(e["event_id"], (TENANT, "web", "checkout"),
                 parse_timestamp(e["occurred_at"])[0], "", e["comment"],
                 Insight("en", -0.5, "negative", "anger", ("returns",)),
                 e.get("revision", 0)) for e in latest.values()], "m1", int(NOW)))
    customers = sorted({e["customer_id"] for b in batches for e in b} - {skip})
    record_notified(warehouse, [
        (e["event_id"], 1, "case_opened", orjson.dumps({"customer_id": e["customer_id"]}))
        for b in batches for e in b if e.get("revision") and e["customer_id"] != skip])
    # Dead letters: JSON with spaces around the colon, and a message naming the id.
    dead = [(int(NOW), "schema_violation", "score: out of range", "cx.feedback", 0, i,
             f'{{"customer_id" :  "{who}", "score": 11}}'.encode())
            for i, who in enumerate(customers)]
    warehouse.insert("deadletters", dead, COLUMNS["deadletters"])


def minutes(warehouse: Warehouse, table: str, column: str) -> dict[tuple, dict]:
    """Stored statistics (FINAL) that count anything, by scope and bucket."""
    rows = warehouse.query(
        f"SELECT tenant, channel, touchpoint, toUnixTimestamp({column}) AS at, "
        f"{', '.join(STAT_COLUMNS)} FROM {warehouse.database}.{table} FINAL")
    found = {(r["tenant"], r["channel"], r["touchpoint"], int(r["at"])):
             {name: int(r[name]) for name in STAT_COLUMNS} for r in rows}
    return {key: stats for key, stats in found.items() if any(stats.values())}


def stored(warehouse: Warehouse) -> dict[str, list[bytes]]:
    """Every String value per table, in an order that does not depend on parts."""
    return {table: sorted(values) for table, values in string_values(warehouse).items()}


def distinct(warehouse: Warehouse, customer: str) -> dict[str, set[bytes]]:
    """The distinct String values naming ``customer``, per table."""
    return {table: {value for value in values if customer.encode() in value}
            for table, values in string_values(warehouse).items()}


def naming(warehouse: Warehouse, customer: str) -> dict[str, int]:
    return {table: n for table, values in string_values(warehouse).items()
            if (n := sum(customer.encode() in value for value in values))}


def test_forget_leaves_no_trace_and_scores_equal_a_recomputation_without_the_customer(
        pair: tuple[Warehouse, Warehouse]) -> None:
    own, reference = pair
    target = f"forget-me-{time.monotonic_ns()}"
    batches = traffic(target)
    write(own, batches)
    write(reference, batches, skip=target)
    assert set(naming(own, target)) >= {"interactions", "feedback", "followups",
                                        "followup_cases", "deadletters", "notifications"}
    assert differences(own, DEADLINE_MS) == []

    before = stored(own)
    planned = forget(own, TENANT, target, deadline_ms=DEADLINE_MS, dry_run=True)
    assert stored(own) == before  # a dry run changes nothing
    assert list(planned) == list(ERASED_TABLES)
    assert planned["interactions"] == 3 and planned["deadletters"] == 1
    assert planned["feedback"] >= 2 and planned["score_facts"] >= 5

    done = forget(own, TENANT, target, deadline_ms=DEADLINE_MS)
    assert done == planned
    assert naming(own, target) == {}
    assert differences(own, DEADLINE_MS) == []
    for table, column in (("score_minutes", "minute"), ("score_hours", "hour"),
                          ("score_days", "day")):
        assert minutes(own, table, column) == minutes(reference, table, column), table
    # keep-b's CES answer was met only by the target's follow-up: now it is not.
    case = own.query(f"SELECT met_at FROM {own.database}.followup_cases FINAL "
                     "WHERE feedback_id = 'b-ces'")
    assert [row["met_at"] for row in case] == [None]
    # The others are untouched (as sets: mutations rewrite parts, so copies differ).
    for other in ("keep-a", "keep-b"):
        assert set(naming(own, other)) == set(naming(reference, other)) != set()
        assert distinct(own, other) == distinct(reference, other)

    again = forget(own, TENANT, target, deadline_ms=DEADLINE_MS)
    assert again == dict.fromkeys(ERASED_TABLES, 0)
    assert differences(own, DEADLINE_MS) == []


def test_the_naive_rewrite_loses_to_the_old_minute(pair: tuple[Warehouse, Warehouse]) -> None:
    """Why ``forget`` lifts the minute versions: facts removed, a plain rewrite of the
    minutes computes a lower version and the stale minute still wins under FINAL."""
    own, reference = pair
    target = f"naive-{time.monotonic_ns()}"
    write(own, traffic(target))
    write(reference, traffic(target), skip=target)
    found = find(own, TENANT, target)
    keys = {(r["tenant"], r["channel"], r["touchpoint"], int(r["m"])) for r in own.query(
        f"SELECT DISTINCT tenant, channel, touchpoint, toUnixTimestamp(minute) AS m "
        f"FROM {own.database}.score_facts WHERE event_id IN "
        f"('t-in1', 't-in2', 't-nps', 't-csat', 't-alone')")}
    delete(own, found.conditions)
    rewrite_minutes(own, keys)
    assert minutes(own, "score_minutes", "minute") != minutes(reference, "score_minutes",
                                                              "minute")
    assert differences(own, DEADLINE_MS) != []


def test_a_mutation_that_cannot_finish_is_a_clear_error_not_a_hang(
        server_warehouse: Warehouse) -> None:
    own = OwnDatabase(server_warehouse, "stuck")
    try:
        migrate(own)
        own.insert("notifications", [("e1", 0, "case_opened", 0, "{}")],
                   ("event_id", "revision", "type", "sent_at", "payload"))
        # Fails on every row, so it never finishes (checked on rows, not when issued).
        own.execute(f"ALTER TABLE {own.database}.notifications "
                    "DELETE WHERE throwIf(length(event_id) > 0) = 0")
        said: list[str] = []
        with pytest.raises(WarehouseError, match=r"mutations not done after 1 s on "
                           r"notifications \(1 parts\)"):
            wait_for_mutations(own, ["notifications", "feedback"], timeout_s=1.2,
                               progress=said.append, every_s=0.3)
        assert said and said[0].startswith("still removing after")
    finally:
        own.close()


def test_a_run_interrupted_after_the_facts_went_is_finished_by_running_it_again(
        pair: tuple[Warehouse, Warehouse], monkeypatch: pytest.MonkeyPatch) -> None:
    own, reference = pair
    target = f"crash-{time.monotonic_ns()}"
    write(own, traffic(target))
    write(reference, traffic(target), skip=target)

    def crash(*args: object) -> None:
        raise RuntimeError("killed")

    with monkeypatch.context() as patch:
        patch.setattr(erasure, "lift", crash)
        with pytest.raises(RuntimeError):
            forget(own, TENANT, target, deadline_ms=DEADLINE_MS)
    assert int(own.query(f"SELECT count() AS n FROM {own.database}.score_facts "
                         "WHERE event_id = 't-in1'")[0]["n"]) == 0  # the facts went
    assert differences(own, DEADLINE_MS) != []
    again = forget(own, TENANT, target, deadline_ms=DEADLINE_MS)
    assert again["interactions"] == 3 and again["score_facts"] == 0
    assert naming(own, target) == {}
    assert differences(own, DEADLINE_MS) == []
    assert minutes(own, "score_days", "day") == minutes(reference, "score_days", "day")


def test_a_stale_minute_a_worker_writes_after_the_rewrite_is_rewritten_again(
        pair: tuple[Warehouse, Warehouse]) -> None:
    """A worker that read the facts before they went writes its minute (higher version,
    the customer still counted) after forget's rewrite: forget looks again and wins."""
    own, reference = pair
    target = f"stale-{time.monotonic_ns()}"
    write(own, traffic(target))
    write(reference, traffic(target), skip=target)
    columns = ", ".join(f"toUnixTimestamp({c}) AS {c}" if c in ("minute", "computed_at")
                        else c for c in MINUTE_COLUMNS)
    old = [tuple(row.values()) for row in own.query(
        f"SELECT {columns} FROM {own.database}.score_minutes FINAL")]
    said: list[str] = []

    def stale_worker(message: str) -> None:
        said.append(message)
        if message.startswith("rewrote") and len(said) < 10 and not any(
                m.startswith("rewrote") for m in said[:-1]):
            top = int(own.query(f"SELECT max(version) AS v FROM {own.database}."
                                "score_minutes")[0]["v"])
            own.insert("score_minutes", [(*row[:-2], top + 5, int(row[-1])) for row in old],
                       MINUTE_COLUMNS)

    forget(own, TENANT, target, deadline_ms=DEADLINE_MS, progress=stale_worker, settle_s=0.1)
    assert sum(message.startswith("rewrote") for message in said) == 2
    assert differences(own, DEADLINE_MS) == []
    for table, column in (("score_minutes", "minute"), ("score_days", "day")):
        assert minutes(own, table, column) == minutes(reference, table, column), table
