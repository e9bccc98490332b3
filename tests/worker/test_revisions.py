"""Revisions end to end: real broker, ClickHouse server, two `cxpulse worker`s, a SIGKILL.

Revisions of many feedback ids arrive shuffled, half of them unkeyed (so two workers
handle revisions of one id at the same moment), and one worker is killed mid-stream
and restarted. The highest revision must win: the raw row, and `cxpulse verify`.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time

import pytest

from streams.warehouse import connect
from tests.support.events import record, stamp
from tests.support.services import (
    CXPULSE,
    produce,
    wait_balanced,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.integration

IDS = 120
TOUCHPOINTS = ("checkout", "delivery", "search")


def revisions(rng: random.Random, now: float) -> tuple[list[dict], dict[str, int]]:
    """Up to four revisions per id (numbers with gaps), each with its own score, comment,
    touchpoint and minute; a few follow-ups; and each id's highest revision."""
    events, highest = [], {}
    for n in range(IDS):
        key = f"rv-{n}"
        numbers = sorted(rng.sample(range(6), rng.randint(1, 4)))
        highest[key] = numbers[-1]
        for revision in numbers:
            event = {"event_id": key, "type": "feedback", "tenant": "acme-shop",
                     "occurred_at": stamp(now - rng.randint(60, 6 * 3600)),
                     "channel": rng.choice(("web", "chat")),
                     "touchpoint": rng.choice(TOUCHPOINTS), "survey": "nps",
                     "score": rng.randint(0, 10), "revision": revision}
            if rng.random() < 0.5:
                event["comment"] = rng.choice(("late", "never again", "great", "refund please"))
            events.append(event)
        if rng.random() < 0.3:
            events.append({"event_id": f"fu-{n}", "type": "followup", "tenant": "acme-shop",
                           "occurred_at": stamp(now - rng.randint(0, 3600)), "channel": "voice",
                           "feedback_id": key, "action": "contacted"})
    rng.shuffle(events)
    return events, highest


def test_the_highest_revision_wins_through_two_workers_and_a_sigkill(
        kafka, server_url, start_worker, tmp_path) -> None:
    rng = random.Random(15)
    events, highest = revisions(rng, time.time())
    sends = [record(e) if rng.random() < 0.5 else (record(e)[0], None, record(e)[2])
             for e in events]
    env = worker_env(kafka, server_url, tmp_path)
    first, second = start_worker(env, "a"), start_worker(env, "b")
    wait_balanced([first, second], partitions=3 * 4)
    half = len(sends) // 2
    for start in range(0, half, 40):  # small sends: the kill lands mid-stream
        produce(kafka, sends[start:min(start + 40, half)])
    wait_until(lambda: second.counter("cx_events_total") > 20, 60, "worker b mid-stream")
    second.stop(signal.SIGKILL)
    produce(kafka, sends[half:])
    second = start_worker(env, "b-restarted")
    second.wait_ready()
    produce(kafka, sends[:20])  # replayed revisions: duplicates

    warehouse = connect(server_url)
    pairs = {(e["event_id"], e["revision"]) for e in events if e["type"] == "feedback"}
    followups = sum(e["type"] == "followup" for e in events)

    def landed() -> tuple[int, int]:
        """Revisions stored (the raw table merges older ones away; this table keeps them)
        and follow-ups."""
        rows = warehouse.query(f"SELECT uniqExact(event_id, revision) AS n "
                               f"FROM {warehouse.database}.feedback_revisions")
        done = warehouse.query(f"SELECT count() AS n FROM {warehouse.database}.followups FINAL")
        return int(rows[0]["n"]), int(done[0]["n"])

    wait_until(lambda: landed() == (len(pairs), followups), 60,
               f"{len(pairs)} revisions and {followups} follow-ups")
    final = {row["event_id"]: int(row["revision"]) for row in warehouse.query(
        f"SELECT event_id, revision FROM {warehouse.database}.feedback FINAL")}
    assert final == highest
    assert sum(revision > 0 for revision in highest.values()) > IDS // 2

    def verified() -> bool:
        result = subprocess.run([CXPULSE, "verify"], env={"CX_CLICKHOUSE_URL": server_url},
                                capture_output=True, timeout=60)
        verified.output = result.stdout.decode()[-2000:]  # type: ignore[attr-defined]
        return result.returncode == 0

    wait_until(verified, 30, "cxpulse verify to pass")
    opened = warehouse.query(
        f"SELECT event_id, count() AS n FROM {warehouse.database}.notifications FINAL "
        f"WHERE type = 'case_opened' GROUP BY event_id HAVING n > 1")
    assert opened == []
    kinds = {row["type"] for row in warehouse.query(
        f"SELECT DISTINCT type FROM {warehouse.database}.notifications")}
    assert "case_opened" in kinds and kinds & {"case_updated", "case_withdrawn"}
    assert kinds <= {"case_opened", "case_updated", "case_withdrawn"}
