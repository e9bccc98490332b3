"""Close the loop end to end: real broker, ClickHouse server and `cxpulse worker`.

Unhappy answers page once per feedback on cx.notifications, however often they are
produced, and `cxpulse cases` lists what still needs a call, oldest first.
"""

from __future__ import annotations

import subprocess
import time

import orjson
import pytest

from streams.warehouse import connect
from tests.support.events import record, stamp
from tests.support.services import (
    CXPULSE,
    consume_keyed,
    produce,
    table_count,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.integration

HOUR = 3600


def test_unhappy_answers_notify_once_and_cases_list_what_needs_a_call(
        kafka, server_url, start_worker, tmp_path) -> None:
    now = time.time()

    def feedback(key: str, hours_ago: float, survey: str, score: int, comment: str = "",
                 **fields) -> dict:
        return {"event_id": key, "type": "feedback", "occurred_at": stamp(now - hours_ago * HOUR),
                "tenant": "acme-shop", "channel": "web", "touchpoint": "checkout",
                "customer_id": f"cust-{key}", "survey": survey, "score": score,
                "comment": comment} | fields

    answers = [
        feedback("old-detractor", 72, "nps", 2, "Never again, I want a REFUND"),
        feedback("csat-two", 60, "csat", 2),  # needs follow-up, but no trigger
        feedback("met-ces", 50, "ces", 1),
        feedback("recent-csat", 1, "csat", 1, "parcel broken"),
        feedback("refund-promoter", 5, "nps", 9, "great, but refund the shipping"),
        feedback("happy", 5, "nps", 10, "cancellation was easy"),
    ]
    followup = {"event_id": "fu-1", "type": "followup", "occurred_at": stamp(now - 40 * HOUR),
                "tenant": "acme-shop", "channel": "voice", "feedback_id": "met-ces",
                "action": "resolved"}
    worker = start_worker(worker_env(kafka, server_url, tmp_path))
    worker.wait_ready()
    # A producer duplicate in the same send, without a key (another partition).
    first = [record(e) for e in [*answers, followup]]
    produce(kafka, [*first, *[(topic, None, value) for topic, _, value in first[:2]]])

    expected = {"old-detractor": ["nps_detractor", "keyword:refund", "keyword:never again"],
                "met-ces": ["ces_lowest"], "recent-csat": ["csat_lowest"],
                "refund-promoter": ["keyword:refund"]}
    sent = consume_keyed(kafka, "cx.notifications", len(expected), timeout=60)
    by_id = {key.decode(): orjson.loads(value) for key, value in sent}
    assert {k: v["triggers"] for k, v in by_id.items()} == expected
    assert all(v["event_id"] == k and v["type"] == "case_opened" for k, v in by_id.items())
    old = by_id["old-detractor"]
    assert (old["customer_id"], old["score"], old["comment"], old["sla"]) == (
        "cust-old-detractor", 2, "Never again, I want a REFUND", True)
    assert by_id["refund-promoter"]["sla"] is False

    # Replays and duplicates later, keyed and not: nothing is sent again.
    produce(kafka, [*first, *[(topic, None, value) for topic, _, value in first]])
    total = 3 * len(first) + 2
    wait_until(lambda: worker.counter("cx_events_total") == total, 60, f"{total} events handled")
    assert len(consume_keyed(kafka, "cx.notifications", len(expected) + 1, timeout=3)) == len(
        expected)
    assert worker.counter("cx_notifications_total") == len(expected)
    warehouse = connect(server_url)
    assert table_count(warehouse, "notifications") == len(expected)

    env = {"CX_CLICKHOUSE_URL": server_url}
    listed = subprocess.run([CXPULSE, "cases", "--json"], env=env, capture_output=True,
                            timeout=60, check=True)
    cases = orjson.loads(listed.stdout)
    assert [(c["feedback_id"], c["state"]) for c in cases] == [
        ("old-detractor", "overdue"), ("csat-two", "overdue"), ("recent-csat", "open")]
    assert cases[0]["customer_id"] == "cust-old-detractor"
    assert 23 * HOUR < cases[0]["overdue_seconds"] <= 24 * HOUR + 120
    overdue = subprocess.run([CXPULSE, "cases", "--overdue"], env=env, capture_output=True,
                             timeout=60, check=True).stdout.decode()
    assert "cust-old-detractor" in overdue and "Never again" in overdue
    assert "recent-csat" not in overdue and len(overdue.strip().splitlines()) == 3
    nobody = subprocess.run([CXPULSE, "cases", "--tenant", "nobody"], env=env,
                            capture_output=True, timeout=60, check=True)
    assert nobody.stdout == b"" and nobody.stderr.decode().strip() == (
        "no open cases: every follow-up is met")
