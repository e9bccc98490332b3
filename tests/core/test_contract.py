"""Every rule of event contract v1, on both sides of each boundary (no services)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.core.contract import (
    MAX_FUTURE_SECONDS,
    REASONS,
    Rejection,
    Validator,
    ValidEvent,
    load_event_schemas,
)
from tests.support.contract_cases import EXAMPLES, NOW, REVISION_EXAMPLE
from tests.support.events import stamp

validator = Validator(max_event_bytes=65536, max_age_seconds=30 * 86400)
TOPIC = {"interaction": "cx.interactions", "feedback": "cx.feedback", "followup": "cx.followups"}


def check(event_type: str, **changes: Any) -> ValidEvent | Rejection:
    event = {**EXAMPLES[event_type], **changes}
    return validator.check(orjson.dumps({k: v for k, v in event.items() if v is not DROP}),
                           TOPIC[event_type], NOW)


DROP = object()


def rejected(outcome: ValidEvent | Rejection, reason: str, field: str) -> bool:
    return (isinstance(outcome, Rejection) and outcome.reason == reason
            and field in outcome.message)


@pytest.mark.parametrize("kind", sorted(TOPIC))
def test_examples_are_valid(kind: str) -> None:
    assert isinstance(check(kind), ValidEvent)


@pytest.mark.parametrize(("field", "ok", "bad"), [
    ("event_id", "x" * 64, "x" * 65),
    ("event_id", "x", ""),
    ("tenant", "a" + "b" * 63, "a" + "b" * 64),
    ("tenant", "0_a-b", "-ab"),
    ("tenant", "acme", "Acme"),
    ("channel", "social", "fax"),
    ("touchpoint", "t" * 64, "t" * 65),
    ("customer_id", "c" * 128, "c" * 129),
    ("locale", "ar", "arabic language"),
    ("attributes", {f"k{i}": i for i in range(32)}, {f"k{i}": i for i in range(33)}),
    ("attributes", {"a": "s", "b": 1.5, "c": True}, {"a": [1]}),
    ("attributes", {"a": "s"}, {"a": None}),
])
def test_common_field_boundaries(field: str, ok: Any, bad: Any) -> None:
    assert isinstance(check("feedback", **{field: ok}), ValidEvent)
    assert rejected(check("feedback", **{field: bad}), "schema_violation", field)


@pytest.mark.parametrize("field", ["event_id", "type", "occurred_at", "tenant", "channel"])
def test_common_required_fields(field: str) -> None:
    outcome = check("interaction", **{field: DROP})
    assert isinstance(outcome, Rejection) and outcome.reason == "schema_violation"
    assert field in outcome.message


@pytest.mark.parametrize(("survey", "scale", "low", "high"), [
    ("nps", DROP, 0, 10), ("csat", DROP, 1, 5), ("csat", 5, 1, 5), ("csat", 10, 1, 10),
    ("ces", DROP, 1, 7),
])
def test_score_ranges(survey: str, scale: Any, low: int, high: int) -> None:
    for score in (low, high):
        assert isinstance(check("feedback", survey=survey, scale=scale, score=score), ValidEvent)
    for score in (low - 1, high + 1):
        outcome = check("feedback", survey=survey, scale=scale, score=score)
        assert rejected(outcome, "score_out_of_range", "score"), outcome


def test_feedback_rules() -> None:
    assert rejected(check("feedback", score=3.5), "schema_violation", "score")
    assert rejected(check("feedback", score="3"), "schema_violation", "score")
    assert rejected(check("feedback", score=True), "schema_violation", "score")
    assert rejected(check("feedback", survey="nps", scale=10, score=9), "schema_violation",
                    "scale")
    assert rejected(check("feedback", scale=7), "schema_violation", "scale")
    assert rejected(check("feedback", survey="sus"), "schema_violation", "survey")
    assert isinstance(check("feedback", comment="é" * 5000), ValidEvent)
    assert rejected(check("feedback", comment="é" * 5001), "schema_violation", "comment")
    assert rejected(check("feedback", score=DROP), "schema_violation", "score")


def test_interaction_rules() -> None:
    assert isinstance(check("interaction", duration_ms=0, value=0), ValidEvent)
    assert rejected(check("interaction", duration_ms=-1), "schema_violation", "duration_ms")
    assert rejected(check("interaction", value=-0.01), "schema_violation", "value")
    assert rejected(check("interaction", currency="eur"), "schema_violation", "currency")
    assert rejected(check("interaction", currency=DROP), "schema_violation", "currency")
    assert rejected(check("interaction", kind="browse"), "schema_violation", "kind")
    assert rejected(check("interaction", outcome="ok"), "schema_violation", "outcome")
    assert isinstance(check("interaction", outcome=DROP, duration_ms=DROP, value=DROP,
                            currency=DROP), ValidEvent)


def test_followup_rules() -> None:
    assert rejected(check("followup", action="called"), "schema_violation", "action")
    assert rejected(check("followup", feedback_id=DROP), "schema_violation", "feedback_id")
    assert rejected(check("followup", agent="a" * 129), "schema_violation", "agent")


def test_unknown_fields_are_named() -> None:
    assert rejected(check("followup", scroe=1), "schema_violation", "scroe")


@pytest.mark.parametrize(("text", "valid"), [
    ("2026-11-22T10:15:30Z", True), ("2026-11-22T10:15:30.123456789+05:30", True),
    ("2026-11-22t10:15:30z", True), ("2026-11-22T08:15:30-03:00", True),
    ("2026-11-22T10:15:30", False), ("2026-11-22 10:15:30Z", False), ("2026-11-22", False),
    ("20261122T101530Z", False), ("2026-02-30T10:15:30Z", False),
    ("2026-11-22T25:15:30Z", False), ("2026-11-22T10:15:30+25:00", False),
])
def test_timestamp_format(text: str, valid: bool) -> None:
    outcome = check("feedback", occurred_at=text)
    assert isinstance(outcome, ValidEvent) if valid else rejected(
        outcome, "schema_violation", "occurred_at")


def test_timestamp_window_and_utc_conversion() -> None:
    max_age = 30 * 86400
    assert isinstance(check("feedback", occurred_at=stamp(NOW - max_age + 1)), ValidEvent)
    assert rejected(check("feedback", occurred_at=stamp(NOW - max_age - 1)),
                    "timestamp_out_of_range", "occurred_at")
    assert isinstance(check("feedback", occurred_at=stamp(NOW + MAX_FUTURE_SECONDS - 1)),
                      ValidEvent)
    assert rejected(check("feedback", occurred_at=stamp(NOW + MAX_FUTURE_SECONDS + 1, 420)),
                    "timestamp_out_of_range", "future")
    local = check("feedback", occurred_at="2026-11-22T18:59:59.999+07:00")
    assert isinstance(local, ValidEvent)
    assert local.occurred_ms == 1795348799999 and local.utc_offset_min == 420


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "invalid_json"), (b'{"a":', "invalid_json"), (b"\xff\xfe", "invalid_json"),
    (b'{"score": NaN}', "invalid_json"), (b"[" * 5000 + b"]" * 5000, "invalid_json"),
    (b"[1]", "schema_violation"), (b'"text"', "schema_violation"), (b"null", "schema_violation"),
    (b'{"type": "purchase"}', "schema_violation"), (b'{"type": ["feedback"]}', "schema_violation"),
])
def test_undecodable_and_untyped_messages(raw: bytes, reason: str) -> None:
    outcome = validator.check(raw, "cx.feedback", NOW)
    assert isinstance(outcome, Rejection) and outcome.reason == reason and outcome.message


def test_size_limit_and_topic() -> None:
    small = Validator(max_event_bytes=1024, max_age_seconds=86400 * 30)
    event = orjson.dumps({**EXAMPLES["feedback"], "comment": "x" * 300})
    assert isinstance(small.check(event, "cx.feedback", NOW), ValidEvent)
    big = orjson.dumps({**EXAMPLES["feedback"], "comment": "x" * 1000})
    assert small.check(big, "cx.feedback", NOW).reason == "too_large"
    assert validator.check(event, "cx.interactions", NOW).reason == "wrong_topic"


def test_reasons_match_the_deadletter_schema() -> None:
    schema = load_event_schemas()["deadletter"]
    assert tuple(schema["properties"]["reason"]["enum"]) == REASONS


def test_revision_example_is_a_later_revision_of_the_feedback_example() -> None:
    outcome = validator.check(orjson.dumps(REVISION_EXAMPLE), TOPIC["feedback"], NOW)
    assert isinstance(outcome, ValidEvent)
    assert outcome.event.revision == 1  # type: ignore[union-attr]
    assert outcome.event.event_id == EXAMPLES["feedback"]["event_id"]
    assert check("feedback").event.revision == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(("ok", "bad"), [(0, -1), (99_999_999, 100_000_000), (7, "7"),
                                         (1, True), (3, 1.5), (2, None)])
def test_revision_boundaries(ok: Any, bad: Any) -> None:
    outcome = check("feedback", revision=ok)
    assert isinstance(outcome, ValidEvent) and outcome.event.revision == ok  # type: ignore[union-attr]
    assert rejected(check("feedback", revision=bad), "schema_violation", "revision")


@pytest.mark.parametrize("kind", ["interaction", "followup"])
def test_revision_is_feedback_only(kind: str) -> None:
    assert rejected(check(kind, revision=1), "schema_violation", "unknown field: revision")
