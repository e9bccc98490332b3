"""``cxpulse produce`` and ``generate``: events into Kafka, from JSON Lines or synthetic."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from tests.cli.test_cli import cxpulse
from tests.support.services import consume_all


def test_produce_routes_by_type_and_reports_unroutable_lines(kafka: str, tmp_path: Path) -> None:
    lines = [
        {"event_id": "a", "type": "interaction"}, {"event_id": "b", "type": "feedback"},
        {"event_id": "c", "type": "followup", "feedback_id": "b"},
    ]
    data = b"\n".join(orjson.dumps(line) for line in lines) + b"\n\nnot json\n{\"type\": \"x\"}\n"
    result = cxpulse("produce", "-", env={"CX_KAFKA_BOOTSTRAP": kafka}, stdin=data)
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "line 5: not JSON" in err and "line 6: no routable 'type'" in err
    assert "sent 3 messages" in err
    for topic, event_id in [("cx.interactions", "a"), ("cx.feedback", "b"),
                            ("cx.followups", "c")]:
        assert [orjson.loads(v)["event_id"] for v in consume_all(kafka, topic, 1)] == [event_id]


def test_generate_is_deterministic_and_writes_json_lines() -> None:
    args = ("generate", "--seed", "3", "--rate", "50", "--duration", "20s", "--backfill",
            "--start", "2026-11-20T10:00:00+01:00", "--output", "-")
    first, second = cxpulse(*args), cxpulse(*args)
    assert first.returncode == 0, first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines()]
    assert len(events) > 500
    assert first.stdout == second.stdout
    assert events[0]["occurred_at"].startswith("2026-11-20")
