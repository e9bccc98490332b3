"""Event contract v1: decode and validate one Kafka message, with no I/O.

The JSON Schema files under ``schemas/events`` are the contract; this module
compiles them once and adds what a schema cannot say (the timestamp window,
which topic a type belongs on) plus a reason and a human message per failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any, Final, NamedTuple

import fastjsonschema
import msgspec
import orjson
from msgspec import UNSET

from streams.core.events import AnyEvent, Event, Feedback, Interaction

EVENT_TYPES: Final = ("interaction", "feedback", "followup")
TOPIC_OF_TYPE: Final = {
    "interaction": "cx.interactions",
    "feedback": "cx.feedback",
    "followup": "cx.followups",
}
DEADLETTER_TOPIC: Final = "cx.deadletter"
SCORES_TOPIC: Final = "cx.scores"
ALERTS_TOPIC: Final = "cx.alerts"
"""Alert state changes (``firing``/``resolved``), keyed by tenant|channel|touchpoint|metric."""
INCIDENTS_TOPIC: Final = "cx.incidents"
"""Incident versions (opened, grown, resolved) as JSON with their summary, keyed by
tenant|incident id: one message per version, one incident per problem."""
NOTIFICATIONS_TOPIC: Final = "cx.notifications"
"""Per-response triggers (``case_opened``), keyed by the feedback's event id."""

REASONS: Final = (
    "invalid_json",
    "schema_violation",
    "score_out_of_range",
    "timestamp_out_of_range",
    "too_large",
    "wrong_topic",
    "internal_error",
    "tenant_mismatch",
)
MAX_FUTURE_SECONDS: Final = 300


def routing_key(event: Mapping[str, Any]) -> bytes | None:
    """The Kafka key of an event: its ``event_id``, or its ``feedback_id`` for a follow-up.

    A duplicate (and every revision of one event) lands on the partition of its
    original, and a follow-up next to the feedback it follows up.
    """
    key = event.get("feedback_id") if event.get("type") == "followup" else event.get("event_id")
    return str(key).encode() if key is not None else None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused: ``reason`` for machines, ``message`` for people.

    The message names the offending field, so a producer can fix it without our code.
    """

    reason: str
    message: str


class ValidEvent(NamedTuple):
    """An event that passed the contract (a named tuple: millions are made per minute)."""

    event: AnyEvent
    occurred_ms: int
    """Event time as Unix epoch milliseconds (UTC)."""
    utc_offset_min: int
    """The producer's UTC offset, kept so local-time analysis stays possible."""

    @property
    def type(self) -> str:
        return self.event.TYPE


def load_event_schemas() -> dict[str, dict[str, Any]]:
    """The contract files by name (``common``, ``interaction``, ..., ``deadletter``)."""
    folder = files("cxpulse_schemas").joinpath("events")
    return {
        entry.name.removesuffix(".json"): json.loads(entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


def check_tenant(name: str) -> str:
    """``name`` if it is a tenant by the contract's rule (``common.json``), else ValueError:
    for tenants named outside an event (keys, command-line flags), checked like events."""
    rule = load_event_schemas()["common"]["definitions"]["tenant"]
    if not re.fullmatch(rule["pattern"].strip("^$"), name):
        raise ValueError(f"tenant {name!r} is not valid: it {rule['description']}")
    return name


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
    """Compiled once at start-up; ``check`` is the per-message hot path.

    Valid events take the fast path (msgspec Structs decoding straight from bytes,
    patterns of repeating strings checked once per distinct value). Anything the
    fast path does not accept goes through the JSON Schema files themselves, which
    decide and explain: so reasons and messages come from the published contract,
    and a disagreement can only cost time, never accept a bad event.
    """

    def __init__(self, *, max_event_bytes: int, max_age_seconds: int) -> None:
        self.max_event_bytes = max_event_bytes
        self.max_age_seconds = max_age_seconds
        schemas = load_event_schemas()
        self._validators = _compile(schemas)
        self._decode = msgspec.json.Decoder(AnyEvent).decode
        common = schemas["common"]["definitions"]
        self._stamps = Stamps(common["occurred_at"]["pattern"])
        self._known = {
            name: _Seen(pattern) for name, pattern in (
                ("tenant", common["tenant"]["pattern"]),
                ("locale", common["locale"]["pattern"]),
                ("currency", schemas["interaction"]["properties"]["currency"]["pattern"]))}

    def check(self, raw: bytes, topic: str, now: float) -> ValidEvent | Rejection:
        """Decode and validate one message received on ``topic`` at Unix time ``now``."""
        if len(raw) > self.max_event_bytes:
            return Rejection("too_large", f"message is {len(raw):,} bytes; the limit is "
                             f"{self.max_event_bytes:,} (CX_MAX_EVENT_BYTES)")
        return self.fast(raw, topic, now) or self.explain(raw, topic, now)

    def fast(self, raw: bytes, topic: str, now: float) -> ValidEvent | None:
        """The event if it is valid and plainly so; None sends it to ``explain``."""
        try:
            event = self._decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return None
        if TOPIC_OF_TYPE[event.TYPE] != topic or not self._rules_hold(event):
            return None
        when = self._stamps.parse(event.occurred_at)
        if when is None:
            return None
        occurred_ms, offset_min = when
        if self._out_of_range(event.occurred_at, occurred_ms, now):
            return None
        return ValidEvent(event, occurred_ms, offset_min)

    def _rules_hold(self, event: Event) -> bool:
        """What the Structs leave to us: patterns, and the rules between fields."""
        known = self._known
        if not known["tenant"].ok(event.tenant):
            return False
        if event.locale is not UNSET and not known["locale"].ok(event.locale):
            return False
        if isinstance(event, Feedback):
            if event.scale and event.survey != "csat":
                return False
            low, high = SCORE_RANGES[event.survey, event.scale or None]
            return low <= event.score <= high
        if isinstance(event, Interaction):
            if (event.value is UNSET) != (event.currency is UNSET):
                return False
            return event.currency is UNSET or known["currency"].ok(event.currency)
        return True

    def explain(self, raw: bytes, topic: str, now: float) -> ValidEvent | Rejection:
        """The JSON Schema path: the verdict and the message of the published contract."""
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
        late_or_early = self._out_of_range(stamp, occurred_ms, now)
        if late_or_early:
            return late_or_early
        return ValidEvent(msgspec.convert(event, AnyEvent, strict=False), occurred_ms,
                          offset_min)

    def _out_of_range(self, stamp: str, occurred_ms: int, now: float) -> Rejection | None:
        """The event-time window: not older than the maximum age, not too far ahead."""
        age = now - occurred_ms / 1000
        if age > self.max_age_seconds:
            return Rejection("timestamp_out_of_range", f"occurred_at {stamp} is older than the "
                             f"maximum age of {self.max_age_seconds // 86400} days "
                             "(CX_MAX_EVENT_AGE_DAYS)")
        if -age > MAX_FUTURE_SECONDS:
            return Rejection("timestamp_out_of_range", f"occurred_at {stamp} is more than "
                             f"{MAX_FUTURE_SECONDS // 60} minutes in the future")
        return None


SCORE_RANGES: Final = {("nps", None): (0, 10), ("ces", None): (1, 7), ("csat", None): (1, 5),
                       ("csat", 5): (1, 5), ("csat", 10): (1, 10)}
"""Score bounds by (survey, scale), as the feedback schema's if/then rules give them."""


class _Seen:
    """A pattern check remembered per distinct value: tenants, locales, currencies repeat."""

    __slots__ = ("_match", "_ok")

    def __init__(self, pattern: str) -> None:
        self._match = re.compile(pattern).match
        self._ok: set[str] = set()

    def ok(self, value: str) -> bool:
        if value in self._ok:
            return True
        if not self._match(value):
            return False
        if len(self._ok) >= 65_536:  # bounded: distinct values are few in practice
            self._ok.clear()
        self._ok.add(value)
        return True


class Stamps:
    """RFC 3339 times at a fraction of ``parse_timestamp``'s cost, for the hot path.

    Events of one minute share their first 16 characters (``2026-11-22T10:15``),
    so that prefix is checked and converted once; the rest (seconds, fraction,
    offset) is read by slicing. A string it does not plainly understand gets
    None, and the caller falls back to the checked, general path.
    """

    __slots__ = ("_match", "_minutes")

    def __init__(self, pattern: str) -> None:
        self._match = re.compile(pattern).match
        self._minutes: dict[str, int] = {}

    def parse(self, text: str) -> tuple[int, int] | None:
        """(epoch ms UTC, UTC offset minutes), or None when unsure."""
        if not text.isascii() or len(text) < 20 or text[16] != ":":
            return None
        minute = self._minutes.get(text[:16])
        if minute is None:
            return self._learn(text)
        seconds = text[17:19]
        if not seconds.isdigit() or seconds > "59":
            return None
        last = text[-1]
        if last in "Zz":
            offset_min, fraction = 0, text[19:-1]
        else:
            sign, hours, colon, minutes = text[-6], text[-5:-3], text[-3], text[-2:]
            if (sign not in "+-" or colon != ":" or not hours.isdigit() or hours > "23"
                    or not minutes.isdigit() or minutes > "59"):
                return None
            offset_min = int(hours) * 60 + int(minutes)
            if sign == "-":
                offset_min = -offset_min
            fraction = text[19:-6]
        millis = 0
        if fraction:
            digits = fraction[1:]
            if fraction[0] != "." or not 1 <= len(digits) <= 9 or not digits.isdigit():
                return None
            millis = int(digits[:3].ljust(3, "0"))
        return minute + int(seconds) * 1000 + millis - offset_min * 60_000, offset_min

    def _learn(self, text: str) -> tuple[int, int] | None:
        if not self._match(text):
            return None
        try:
            parsed = parse_timestamp(text)
            wall = datetime.fromisoformat(text[:16].upper()).replace(tzinfo=UTC)
        except ValueError:
            return None
        if len(self._minutes) >= 100_000:
            self._minutes.clear()
        self._minutes[text[:16]] = (wall - _EPOCH) // _MILLISECOND
        return parsed
