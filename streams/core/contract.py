"""Event contract v1: decode and validate one Kafka message, with no I/O.

The JSON Schema files under ``schemas/events`` are the contract; this module
compiles them once and adds what a schema cannot say (the timestamp window,
which topic a type belongs on) plus a reason and a human message per failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any, Final

import fastjsonschema
import orjson

EVENT_TYPES: Final = ("interaction", "feedback", "followup")
TOPIC_OF_TYPE: Final = {
    "interaction": "cx.interactions",
    "feedback": "cx.feedback",
    "followup": "cx.followups",
}
DEADLETTER_TOPIC: Final = "cx.deadletter"
SCORES_TOPIC: Final = "cx.scores"

REASONS: Final = (
    "invalid_json",
    "schema_violation",
    "score_out_of_range",
    "timestamp_out_of_range",
    "too_large",
    "wrong_topic",
    "internal_error",
)
MAX_FUTURE_SECONDS: Final = 300


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused: ``reason`` for machines, ``message`` for people.

    The message names the offending field, so a producer can fix it without our code.
    """

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class ValidEvent:
    type: str
    fields: dict[str, Any]
    occurred_ms: int
    """Event time as Unix epoch milliseconds (UTC)."""
    utc_offset_min: int
    """The producer's UTC offset, kept so local-time analysis stays possible."""


def load_event_schemas() -> dict[str, dict[str, Any]]:
    """The contract files by name (``common``, ``interaction``, ..., ``deadletter``)."""
    folder = files("cxpulse_schemas").joinpath("events")
    return {
        entry.name.removesuffix(".json"): json.loads(entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


def _compile(schemas: dict[str, dict[str, Any]]) -> dict[str, Callable[[Any], Any]]:
    by_uri = {schema["$id"]: schema for schema in schemas.values()}

    def resolve(uri: str) -> dict[str, Any]:
        # Refs point at our own files only; no network, ever.
        try:
            return by_uri[uri.split("#", 1)[0]]
        except KeyError:
            raise ValueError(f"schema reference outside the contract: {uri}") from None

    return {
        name: fastjsonschema.compile(schemas[name], handlers={"https": resolve, "http": resolve})
        for name in EVENT_TYPES
    }


def _field(path: list[str]) -> str:
    return ".".join(str(p) for p in path[1:]) or "event"


def _explain(error: fastjsonschema.JsonSchemaValueException, event: dict[str, Any]) -> Rejection:
    field = _field(list(error.path or ["data"]))
    text = str(error.message)
    if error.rule == "required":
        missing = [name for name in error.rule_definition if name not in event]
        return Rejection("schema_violation", f"missing required field: {', '.join(missing)}")
    if error.rule == "additionalProperties":
        known = set(error.definition.get("properties", {}))
        unknown = sorted(name for name in event if name not in known)
        return Rejection("schema_violation", f"unknown field: {', '.join(unknown)}")
    if field == "score" and error.rule in ("minimum", "maximum"):
        survey, scale = event.get("survey"), event.get("scale")
        context = f"survey {survey}" + (f", scale {scale}" if scale else "")
        return Rejection("score_out_of_range", f"score {event.get('score')!r} out of range: "
                         f"{text.removeprefix('data.')} ({context})")
    if text.startswith("data."):
        text = text.removeprefix("data.")
    elif text.startswith("data "):
        text = "event " + text.removeprefix("data ")
    if error.rule == "pattern" and isinstance(error.definition, dict):
        rule = error.definition.get("description") or f"must match {error.rule_definition}"
        text = f"{field} {_value_at(event, error.path)!r} {rule}"
    elif error.definition is False:
        text = f"{field} is not allowed here" + (
            " (scale applies to csat only)" if field == "scale" else "")
    return Rejection("schema_violation", text)


def _value_at(event: dict[str, Any], path: list[str] | None) -> Any:
    value: Any = event
    for key in (path or [])[1:]:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def parse_timestamp(text: str) -> tuple[int, int]:
    """RFC 3339 (already pattern-checked) -> (epoch milliseconds UTC, UTC offset minutes)."""
    moment = datetime.fromisoformat(text.upper())
    offset = moment.utcoffset()
    assert offset is not None  # the pattern requires an offset
    # Integer arithmetic: float seconds * 1000 can be off by a millisecond.
    return (moment - _EPOCH) // _MILLISECOND, int(offset.total_seconds() // 60)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


class Validator:
    """Compiled once at start-up; ``check`` is the per-message hot path."""

    def __init__(self, *, max_event_bytes: int, max_age_seconds: int) -> None:
        self.max_event_bytes = max_event_bytes
        self.max_age_seconds = max_age_seconds
        self._validators = _compile(load_event_schemas())

    def check(self, raw: bytes, topic: str, now: float) -> ValidEvent | Rejection:
        """Decode and validate one message received on ``topic`` at Unix time ``now``."""
        if len(raw) > self.max_event_bytes:
            return Rejection("too_large", f"message is {len(raw):,} bytes; the limit is "
                             f"{self.max_event_bytes:,} (CX_MAX_EVENT_BYTES)")
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            return Rejection("invalid_json", f"payload is not valid UTF-8 JSON: {error}")
        if not isinstance(event, dict):
            return Rejection("schema_violation",
                             f"event must be a JSON object, got {type(event).__name__}")
        kind = event.get("type")
        validate = self._validators.get(kind) if isinstance(kind, str) else None
        if validate is None:
            return Rejection("schema_violation",
                             f"type must be one of {', '.join(EVENT_TYPES)}, got {kind!r}")
        if TOPIC_OF_TYPE[kind] != topic:
            return Rejection("wrong_topic",
                             f"type {kind!r} belongs on topic {TOPIC_OF_TYPE[kind]}, not {topic}")
        try:
            validate(event)
        except fastjsonschema.JsonSchemaValueException as error:
            return _explain(error, event)
        stamp = event["occurred_at"]
        try:
            occurred_ms, offset_min = parse_timestamp(stamp)
        except ValueError as error:
            return Rejection("schema_violation", f"occurred_at {stamp!r} is not a valid "
                             f"date-time: {error}")
        age = now - occurred_ms / 1000
        if age > self.max_age_seconds:
            return Rejection("timestamp_out_of_range", f"occurred_at {stamp} is older than the "
                             f"maximum age of {self.max_age_seconds // 86400} days "
                             "(CX_MAX_EVENT_AGE_DAYS)")
        if -age > MAX_FUTURE_SECONDS:
            return Rejection("timestamp_out_of_range", f"occurred_at {stamp} is more than "
                             f"{MAX_FUTURE_SECONDS // 60} minutes in the future")
        return ValidEvent(kind, event, occurred_ms, offset_min)
