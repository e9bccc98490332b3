"""Valid and hostile test events, built relative to a given "now"."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from streams.core.contract import TOPIC_OF_TYPE

CHANNELS = ("web", "mobile_app", "email", "chat", "messaging", "voice", "store", "social")
OFFSETS = (0, 60, 330, -300, 420, 180, 540)
PERSONAL = "Contact me at jane.doe@example.com or +33 6 12 34 56 78, the parcel never came."


def stamp(moment: float, offset_minutes: int = 0) -> str:
    zone = timezone(timedelta(minutes=offset_minutes))
    text = datetime.fromtimestamp(moment, UTC).astimezone(zone).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def valid_events(count: int, now: float, prefix: str = "ev") -> list[dict[str, Any]]:
    """A varied mix of all three types over the last hour, with mixed UTC offsets."""
    events: list[dict[str, Any]] = []
    cycle = itertools.cycle(("interaction", "interaction", "feedback", "followup"))
    for i, kind in zip(range(count), cycle, strict=False):
        base = {"event_id": f"{prefix}-{i}", "type": kind,
                "occurred_at": stamp(now - 3600 + i * 3600 / count, OFFSETS[i % len(OFFSETS)]),
                "tenant": ("acme-shop", "nordwind")[i % 2], "channel": CHANNELS[i % 8]}
        if kind == "interaction":
            base |= {"kind": "purchase", "outcome": ("success", "failure")[i % 5 == 0],
                     "duration_ms": i, "value": 10.5, "currency": "EUR"}
        elif kind == "feedback":
            base |= [{"survey": "nps", "score": i % 11}, {"survey": "csat", "score": 1 + i % 5},
                     {"survey": "csat", "scale": 10, "score": 1 + i % 10},
                     {"survey": "ces", "score": 1 + i % 7}][i % 4]
        else:
            base |= {"feedback_id": f"{prefix}-{i - 2}", "action": "contacted"}
        events.append(base)
    return events


def record(event: dict[str, Any]) -> tuple[str, bytes, bytes]:
    return TOPIC_OF_TYPE[event["type"]], event["event_id"].encode(), orjson.dumps(event)


def hostile(now: float) -> list[tuple[str, bytes | None, bytes | None, str]]:
    """(topic, key, value, expected reason) for every kind of bad input we promise to survive."""
    good = {"event_id": "h-0", "type": "feedback", "occurred_at": stamp(now - 60),
            "tenant": "acme-shop", "channel": "web", "survey": "nps", "score": 7}

    def fb(**changes: Any) -> bytes:
        return orjson.dumps({**good, **changes})

    feedback = "cx.feedback"
    return [
        (feedback, None, fb()[:40], "invalid_json"),
        (feedback, None, fb().replace(b'"score":7', b'"score":NaN'), "invalid_json"),
        (feedback, None, b'{"event_id": "h-\xff\xfe", "type": "feedback"}', "invalid_json"),
        (feedback, None, b"[" * 5000 + b"]" * 5000, "invalid_json"),
        (feedback, None, b"", "invalid_json"),
        (feedback, b"tombstone", None, "invalid_json"),
        (feedback, None, b'{"comment": "' + b"x" * (2 * 1024 * 1024) + b'"}', "too_large"),
        (feedback, None, fb(score="7"), "schema_violation"),
        (feedback, None, fb(tenant=123), "schema_violation"),
        (feedback, None, fb(channel="fax"), "schema_violation"),
        (feedback, None, b"[1, 2, 3]", "schema_violation"),
        (feedback, None, fb(surprise=True), "schema_violation"),
        (feedback, None, fb(score=11), "score_out_of_range"),
        (feedback, None, fb(survey="csat", score=6), "score_out_of_range"),
        (feedback, None, fb(survey="ces", score=0), "score_out_of_range"),
        (feedback, None, fb(occurred_at="2026-11-22T10:15:30"), "schema_violation"),
        (feedback, None, fb(occurred_at=stamp(now - 40 * 86400)), "timestamp_out_of_range"),
        (feedback, None, fb(occurred_at=stamp(now + 3600, 60)), "timestamp_out_of_range"),
        ("cx.interactions", None, fb(), "wrong_topic"),
        ("cx.followups", None, b'{"type": "followup"}', "schema_violation"),
    ]


def feedback_event(event_id: str, comment: object, **extra: object) -> bytes:
    return orjson.dumps({"event_id": event_id, "type": "feedback", "tenant": "acme-shop",
                         "channel": "chat", "touchpoint": "support", "survey": "nps",
                         "score": 2, "occurred_at": stamp(time.time() - 60, 0),
                         "comment": comment, **extra})
