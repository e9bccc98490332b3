"""The interpreter of ``schemas/hooks/<source>.json``: one provider payload -> feedback events.

What a provider's payload means (which question is NPS, where the comment is, how an
amendment is numbered) is data, checked against ``schemas/hooks/mapping.schema.json``;
this module only knows how to read it. The rules it adds, the same for every source:

- ``event_id`` = ``<source>:`` + 40 hex of SHA-256(tenant, response id, survey): the same
  response retried by the provider gives the same id (deduplicated downstream), two
  tenants' ticket #42 do not collide, and every survey of one response has its own id
  whatever the other answers (so a partial response that gains a CSAT later keeps its
  NPS id).
- A response with no scored answer, or an event type that is not a response, maps to no
  event (an empty list, answered 200 with nothing accepted): providers disable webhooks
  that keep failing, and such deliveries are normal (Delighted's unsubscribe, a Formbricks
  response started but not yet scored).
- A payload that is not the provider's shape (not JSON, a response without an id or a
  time, a score that is not a number) is a HookError 400 naming the field: never dropped
  silently, never another exception. A score out of the survey's range is left to the
  contract validator, which gives the reason and message every producer gets.
- The comment goes with the first event of a response only, so comment analytics do not
  count it once per question; longer than the contract's 5,000 chars it is cut there and
  ``attributes.comment_truncated`` says so. A locale that is not a BCP 47 tag is kept as
  ``attributes.source_locale`` rather than failing the response.
- ``revision`` is always present (0 when the source never amends): terms summed, clamped
  to 0..99,999,999.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any, Final

import fastjsonschema

from streams.core.contract import load_event_schemas
from streams.hooks.errors import invalid

MAX_REVISION: Final = 99_999_999
MAX_COMMENT: Final = 5000
MAX_ATTRIBUTE: Final = 1024
MAX_TOUCHPOINT: Final = 64
MAX_SCORE_MAGNITUDE: Final = 1_000_000_000
"""Beyond this a "score" is hostile, not out of range: refused here, so it never reaches JSON."""
_FRACTION = re.compile(r"(\.\d{6})\d+")
ABSENT: Final = object()


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer of a multi-question response: its question ids (lower-cased), type, value."""

    ids: tuple[str, ...]
    type: str | None
    value: Any


@cache
def _contract() -> tuple[frozenset[str], re.Pattern[str]]:
    common = load_event_schemas()["common"]["definitions"]
    return frozenset(common["channel"]["enum"]), re.compile(common["locale"]["pattern"])


def mapping_schema() -> dict[str, Any]:
    return json.loads(files("cxpulse_schemas").joinpath("hooks", "mapping.schema.json")
                      .read_text("utf-8"))


@cache
def load_mappings() -> dict[str, dict[str, Any]]:
    """Every mapping file by source, each checked against the mapping schema (at start-up)."""
    validate = fastjsonschema.compile(mapping_schema())
    found = {}
    for entry in files("cxpulse_schemas").joinpath("hooks").iterdir():
        if not entry.name.endswith(".json") or entry.name == "mapping.schema.json":
            continue
        mapping = json.loads(entry.read_text("utf-8"))
        try:
            validate(mapping)
        except fastjsonschema.JsonSchemaValueException as error:
            raise ValueError(f"schemas/hooks/{entry.name}: {error.message}") from None
        if mapping["source"] != entry.name.removesuffix(".json"):
            raise ValueError(f"schemas/hooks/{entry.name}: source {mapping['source']!r} "
                             "differs from the file name")
        found[mapping["source"]] = mapping
    return found


def event_id(source: str, tenant: str, response_id: str, survey: str) -> str:
    digest = hashlib.sha256(f"{tenant}\x00{response_id}\x00{survey}".encode()).hexdigest()
    return f"{source}:{digest[:40]}"


def map_payload(mapping: Mapping[str, Any], payload: Any, tenant: str) -> list[dict[str, Any]]:
    """Feedback events of one parsed body: an object, or a list of objects (each one mapped)."""
    if isinstance(payload, list):
        events = []
        for index, item in enumerate(payload):
            if not isinstance(item, dict):
                raise invalid(f"body[{index}] must be a JSON object, got {_kind(item)}")
            events.extend(_map_one(mapping, item, tenant))
        return events
    if not isinstance(payload, dict):
        raise invalid(f"the body must be a JSON object, got {_kind(payload)}")
    return _map_one(mapping, payload, tenant)


def _map_one(mapping: Mapping[str, Any], doc: dict[str, Any], tenant: str
             ) -> list[dict[str, Any]]:
    source = mapping["source"]
    when = mapping["when"]
    kind = pointer(doc, when["path"])
    if kind is ABSENT or kind is None:
        raise invalid(f"{_name(when['path'])} is missing: not a {source} webhook payload")
    if not isinstance(kind, (str, int, float)) or kind not in when["in"]:
        return []  # another kind of event (a ping, an unsubscribe): nothing to map
    answers = _answers(mapping.get("answers"), doc)
    reader = _Reader(doc, answers)
    # A response of the right kind always has an id and a time, scored or not.
    response_id = _text(reader.required(mapping["response_id"], "response_id"),
                        _where(mapping["response_id"]))
    occurred = _instant(reader.required(mapping["occurred_at"], "occurred_at"),
                        _where(mapping["occurred_at"]))

    scored = []
    for rule in mapping["scores"]:
        survey = rule["survey"]
        if isinstance(survey, dict):
            survey = reader.value(survey, "survey")
        if survey is None:
            continue
        survey = _text(survey, "survey")
        score = reader.value(rule["score"], "score")
        if score is None or any(survey == seen for seen, _, _ in scored):
            continue  # one event per survey kind: its id is (response, survey)
        scored.append((survey, _integer(score, _where(rule["score"])), rule))
    if not scored:
        return []

    common: dict[str, Any] = {
        "occurred_at": _rfc3339(occurred),
        "tenant": tenant,
        "channel": _channel(reader, mapping["channel"]),
        "touchpoint": _touchpoint(reader, mapping["touchpoint"]),
    }
    attributes: dict[str, Any] = {"source": source, "response_id": response_id[:MAX_ATTRIBUTE]}
    for name, spec in mapping.get("attributes", {}).items():
        value = reader.value(spec, name)
        if isinstance(value, str):
            attributes[name] = value[:MAX_ATTRIBUTE]
        elif isinstance(value, (bool, int, float)) and _plain_number(value):
            attributes[name] = value
    optional: dict[str, Any] = {}
    if "locale" in mapping:
        locale = reader.value(mapping["locale"], "locale")
        if locale is not None:
            locale = _text(locale, _where(mapping["locale"])).strip().replace("_", "-")
            if len(locale) <= 35 and _contract()[1].match(locale):
                optional["locale"] = locale
            else:
                attributes["source_locale"] = locale[:MAX_ATTRIBUTE]
    if "customer_id" in mapping:
        customer = reader.value(mapping["customer_id"], "customer_id")
        if customer is not None:
            optional["customer_id"] = _text(customer, _where(mapping["customer_id"]))
    comment = None
    if "comment" in mapping:
        comment = reader.value(mapping["comment"], "comment")
        if comment is not None:
            comment = _text(comment, _where(mapping["comment"]))
            if len(comment) > MAX_COMMENT:
                comment = comment[:MAX_COMMENT]
                attributes["comment_truncated"] = True
    revision = _revision(reader, mapping.get("revision", []))

    events = []
    for survey, score, rule in scored:
        event: dict[str, Any] = {
            "event_id": event_id(source, tenant, response_id, survey),
            "type": "feedback",
            **common,
            "survey": survey,
            "score": score,
        }
        scale = rule.get("scale")
        if isinstance(scale, dict):
            scale = reader.value(scale, "scale")
        if scale is not None and survey == "csat":
            event["scale"] = _integer(scale, "scale")
        if comment and not events:
            event["comment"] = comment
        event.update(optional)
        event["attributes"] = dict(attributes)
        event["revision"] = revision
        events.append(event)
    return events


class _Reader:
    """Resolves the mapping's field specs against one payload and its answers."""

    def __init__(self, doc: Any, answers: Sequence[Answer]) -> None:
        self.doc = doc
        self.answers = answers

    def value(self, spec: Mapping[str, Any], name: str) -> Any:
        """The field's value, None when absent; ``required`` fields raise instead."""
        if "const" in spec:
            return spec["const"]
        raw: Any = None
        for path in _paths(spec.get("path")):
            found = pointer(self.doc, path)
            if not _empty(found):
                raw = found
                break
        if raw is None and "question" in spec:
            raw = self._answer(spec["question"])
        if raw is not None and "values" in spec:
            key = (raw.strip().lower() if isinstance(raw, str)
                   else json.dumps(raw) if isinstance(raw, (int, float)) else None)
            if key is not None and key in spec["values"]:
                raw = spec["values"][key]
            elif spec.get("other") == "default":
                raw = None
        if raw is None:
            raw = spec.get("default")
        if raw is None and spec.get("required"):
            raise invalid(f"{_where(spec) or name} is missing")
        return raw

    def required(self, spec: Mapping[str, Any], name: str) -> Any:
        value = self.value(spec, name)
        if value is None:
            raise invalid(f"{_where(spec) or name} is missing ({name})")
        return value

    def _answer(self, question: Mapping[str, Any]) -> Any:
        ids = {name.lower() for name in question.get("ids", ())}
        types = set(question.get("types", ()))
        for answer in self.answers:
            if ids.intersection(answer.ids) and not _empty(answer.value):
                return answer.value
        for answer in self.answers:
            if answer.type in types and not _empty(answer.value):
                return answer.value
        return None


def _answers(spec: Mapping[str, Any] | None, doc: Any) -> list[Answer]:
    if spec is None:
        return []
    found = pointer(doc, spec["path"])
    if found is ABSENT or found is None:
        return []
    where = _name(spec["path"])
    if spec.get("object"):
        if not isinstance(found, dict):
            raise invalid(f"{where} must be an object of answers, got {_kind(found)}")
        return [Answer((str(key).lower(),), None, value) for key, value in found.items()]
    if not isinstance(found, list):
        raise invalid(f"{where} must be a list of answers, got {_kind(found)}")
    answers = []
    for index, item in enumerate(found):
        if not isinstance(item, dict):
            raise invalid(f"{where}[{index}] must be an answer object, got {_kind(item)}")
        ids = tuple(str(value).lower() for path in _paths(spec["id"])
                    if isinstance(value := pointer(item, path), (str, int))
                    and not isinstance(value, bool))
        kind = pointer(item, spec["type"]) if "type" in spec else None
        value = None
        for path in _paths(spec["value"]):
            candidate = pointer(item, path)
            if not _empty(candidate):
                value = candidate
                break
        answers.append(Answer(ids, kind if isinstance(kind, str) else None, value))
    return answers


def _channel(reader: _Reader, spec: Mapping[str, Any]) -> str:
    channels = _contract()[0]
    for path in _paths(spec.get("path")):
        raw = pointer(reader.doc, path)
        if isinstance(raw, str) and raw.strip().lower() in channels:
            return raw.strip().lower()
    value = reader.value(spec, "channel")
    return value if isinstance(value, str) and value in channels else spec["default"]


def _touchpoint(reader: _Reader, spec: Mapping[str, Any]) -> str:
    value = reader.value(spec, "touchpoint")
    if not isinstance(value, str) or not value.strip():
        return spec["default"]
    return value.strip()[:MAX_TOUCHPOINT]


def _revision(reader: _Reader, terms: Sequence[Mapping[str, Any]]) -> int:
    total = 0
    for term in terms:
        if "const" in term:
            total += term["const"]
        elif "flag" in term:
            flag = reader.value(term["flag"], "revision flag")
            if flag is True or (isinstance(flag, str) and flag.strip().lower() == "true"):
                total += term["weight"]
        elif "elapsed" in term:
            start = _instant(reader.required(term["elapsed"]["from"], "revision"),
                             _where(term["elapsed"]["from"]))
            end = _instant(reader.required(term["elapsed"]["to"], "revision"),
                           _where(term["elapsed"]["to"]))
            scale = 1000 if term["unit"] == "ms" else 1
            total += min(max(0, round((end - start).total_seconds() * scale)),
                         term.get("max", MAX_REVISION))
        else:
            number = reader.value(term["number"], "revision")
            if number is not None:
                total += min(max(0, _integer(number, _where(term["number"]))),
                             term.get("max", MAX_REVISION))
    return min(max(0, total), MAX_REVISION)


# ------------------------------------------------------------------ values, typed

def pointer(doc: Any, path: str) -> Any:
    """The value at a JSON Pointer (RFC 6901), or ``ABSENT``."""
    if path == "":
        return doc
    value = doc
    for token in path[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict):
            if token not in value:
                return ABSENT
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            return ABSENT
    return value


def _paths(path: str | Sequence[str] | None) -> Sequence[str]:
    if path is None:
        return ()
    return (path,) if isinstance(path, str) else path


def _empty(value: Any) -> bool:
    return value is ABSENT or value is None or (isinstance(value, str) and not value.strip())


def _name(path: str) -> str:
    return path.lstrip("/").replace("/", ".") or "the body"


def _where(spec: Mapping[str, Any]) -> str:
    paths = _paths(spec.get("path"))
    if paths:
        return " or ".join(_name(path) for path in paths)
    question = spec.get("question")
    if question:
        return "the answer to " + "/".join([*question.get("ids", ()), *question.get("types", ())])
    return ""


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def _preview(value: Any) -> str:
    """A short quote of a scalar for a message (containers are only named: they may be deep)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return f" {str(value)[:40]!r}"
    return ""


def _plain_number(value: Any) -> bool:
    return isinstance(value, bool) or (abs(value) <= MAX_SCORE_MAGNITUDE
                                       and (isinstance(value, int) or math.isfinite(value)))


def _text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18:
        return str(value)
    raise invalid(f"{where} must be text or an integer, got {_kind(value)}")


def _integer(value: Any, where: str) -> int:
    number: Any = value
    digits = isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,12}\s*", value)
    if digits or (isinstance(value, float) and math.isfinite(value) and value.is_integer()):
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int):
        raise invalid(f"{where} must be an integer, got {_kind(value)}{_preview(value)}")
    if abs(number) > MAX_SCORE_MAGNITUDE:
        raise invalid(f"{where} {number} is not a plausible value")
    return number


def _instant(value: Any, where: str) -> datetime:
    """A time from ISO 8601 text (UTC when without an offset) or Unix seconds."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str) and len(value) <= 64:
            text = value.strip()
            if text.isascii() and text.isdigit():
                return datetime.fromtimestamp(int(text), UTC)
            moment = datetime.fromisoformat(_FRACTION.sub(r"\1", text))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise invalid(f"{where} must be an ISO 8601 time or Unix seconds, got "
                  f"{_kind(value)}{_preview(value)}")


def _rfc3339(moment: datetime) -> str:
    """RFC 3339 as the contract wants it, keeping a whole-minute UTC offset."""
    offset = moment.utcoffset()
    if offset is None or offset.total_seconds() % 60:
        moment = moment.astimezone(UTC)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text

