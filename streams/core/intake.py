"""The collector's door, with no I/O: a request body into items, items into Kafka records.

``decode_body`` turns the bytes of one request into items (one JSON value, a JSON
array, or NDJSON lines), refusing the whole request only when it cannot be read at all.
``admit`` decides each item with the worker's own ``Validator``, so the collector and
the worker give the same reasons and messages; the tenant comes from the key.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import orjson

from streams.core.contract import TOPIC_OF_TYPE, Rejection, Validator, ValidEvent, routing_key
from streams.core.ingest import Masker, masked_rejection
from streams.core.keys import ALL_TENANTS, ApiKey
from streams.core.pseudonyms import Pseudonym, pseudonymous_payload
from streams.core.rows import Record, Row, deadletter_envelope, deadletter_row

JSON: Final = "application/json"
NDJSON: Final = "application/x-ndjson"
CONTENT_TYPES: Final = (JSON, NDJSON)
"""Accepted ``Content-Type`` values (``charset=utf-8`` allowed); none means JSON."""
COLLECTOR_TOPIC: Final = "collector"
"""The ``topic`` of a dead letter rejected at the HTTP door: it never reached a source
topic. Its ``partition`` is the item's index in the request and its ``offset`` the
request's id, so every rejected item keeps its own row."""
_ANY_TOPIC: Final = TOPIC_OF_TYPE["interaction"]
"""Where an item without a known ``type`` is checked: the validator rejects it for its
type before the topic matters."""
_MAX_ECHO: Final = 128
"""An ``event_id`` is echoed back in a rejection only up to this many characters."""

KafkaRecord = tuple[str, bytes | None, bytes]
"""(topic, key, value), as ``streams.kafka.produce.send_all`` takes it."""


class IntakeError(ValueError):
    """The whole request is refused: ``status`` for HTTP, ``reason`` for machines."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class Unparsed(NamedTuple):
    """An NDJSON line that is not JSON: rejected on its own, the other lines still count."""

    raw: bytes
    error: str


def media_type(content_type: str | None) -> str:
    """The accepted media type of a ``Content-Type`` header, or IntakeError 415."""
    if not content_type or not content_type.strip():
        return JSON
    kind, *params = (part.strip() for part in content_type.split(";"))
    kind = kind.lower()
    if kind not in CONTENT_TYPES:
        raise IntakeError(415, "unsupported_media_type",
                          f"Content-Type {kind[:80]!r} is not accepted; send "
                          f"{' or '.join(CONTENT_TYPES)}")
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
                "utf-8", "utf8"):
            raise IntakeError(415, "unsupported_media_type",
                              f"charset {value.strip()[:40]!r} is not accepted; send UTF-8")
    return kind


def gunzip(body: bytes, limit: int) -> bytes:
    """Inflate a gzip body to at most ``limit`` bytes, never further (a bomb stops at the cap).

    Concatenated gzip members are read as one stream, as RFC 1952 allows.
    """
    out = bytearray()
    rest = body
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
            while inflater.unconsumed_tail and len(out) <= limit:
                out += inflater.decompress(inflater.unconsumed_tail, limit + 1 - len(out))
        except zlib.error as error:
            raise IntakeError(400, "invalid_gzip", f"body is not valid gzip: {error}") from None
        if len(out) > limit:
            raise IntakeError(413, "too_large", f"body inflates to more than {limit:,} bytes "
                              "(CX_COLLECT_MAX_BODY_BYTES)")
        if not inflater.eof:
            raise IntakeError(400, "invalid_gzip", "body is truncated gzip")
        rest = inflater.unused_data
    return bytes(out)


def decode_body(body: bytes, *, content_type: str | None, content_encoding: str | None,
                max_body_bytes: int, max_events: int) -> list[Any]:
    """The items of a request body (parsed JSON values, or ``Unparsed`` NDJSON lines).

    Raises IntakeError: 415 for a content type or encoding we do not take, 413 for a
    body (or its inflated form) over ``max_body_bytes`` or more than ``max_events``
    items, 400 when nothing can be read (not gzip, not UTF-8 JSON, nesting too deep).
    """
    kind = media_type(content_type)
    if len(body) > max_body_bytes:
        raise IntakeError(413, "too_large", f"body is {len(body):,} bytes; the limit is "
                          f"{max_body_bytes:,} (CX_COLLECT_MAX_BODY_BYTES)")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        body = gunzip(body, max_body_bytes)
    elif encoding != "identity":
        raise IntakeError(415, "unsupported_encoding", f"Content-Encoding {encoding[:40]!r} "
                          "is not accepted; send gzip or no encoding")
    items = _lines(body) if kind == NDJSON else _json(body)
    if len(items) > max_events:
        raise IntakeError(413, "too_many_events", f"body holds {len(items):,} events; the "
                          f"limit is {max_events:,} per request (CX_COLLECT_MAX_EVENTS)")
    return items


def _json(body: bytes) -> list[Any]:
    if not body.strip():
        raise IntakeError(400, "invalid_json", "body is empty; send a JSON event or array")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise IntakeError(400, "invalid_json", f"body is not valid UTF-8 JSON: {error}") from None
    return value if isinstance(value, list) else [value]


def _lines(body: bytes) -> list[Any]:
    items: list[Any] = []
    for line in body.split(b"\n"):
        line = line.strip()
        if not line:
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as error:
            items.append(Unparsed(line, f"line is not valid UTF-8 JSON: {error}"))
    if not items:
        raise IntakeError(400, "invalid_json", "body holds no NDJSON lines")
    return items


@dataclass(slots=True)
class Admission:
    """What one request's items become: records to produce and rejections to answer."""

    records: list[KafkaRecord] = field(default_factory=list)
    """Accepted events, as sent (the tenant filled in from the key when missing)."""
    rejected: list[dict[str, Any]] = field(default_factory=list)
    """``{index, event_id, reason, message}`` per rejected item, for the answer."""
    deadletters: list[Row] = field(default_factory=list)
    """``cx.deadletters`` rows of the rejected items (payloads masked)."""
    envelopes: list[bytes] = field(default_factory=list)
    """Their ``cx.deadletter`` messages."""
    reasons: Counter[str] = field(default_factory=Counter)
    pii: Counter[str] = field(default_factory=Counter)
    """Personal data masked in the dead letters, by kind."""


def admit(items: Sequence[Any], key: ApiKey, validator: Validator, now: float, *,
          max_event_bytes: int, request_id: int, masker: Masker | None = None,
          pseudonym: Pseudonym | None = None) -> Admission:
    """Decide every item: accepted (a Kafka record) or rejected (an answer and a dead letter).

    An event without ``tenant`` gets the key's; one naming another tenant is rejected
    ``tenant_mismatch`` (an ``admin`` key writes any tenant, so its events must name one).
    Each item is re-serialised and checked by ``validator.check`` on its type's topic:
    the worker's own path, reasons and messages. Dead letters are masked (``masker``) and
    their customer ids pseudonymised (``pseudonym``, CX_CUSTOMER_ID_HASH) as the worker's
    are; accepted events go to Kafka as sent (the worker pseudonymises them).
    """
    admission = Admission()
    for index, item in enumerate(items):
        raw, outcome = _decide(item, key, validator, now, max_event_bytes)
        if type(outcome) is ValidEvent:
            admission.records.append((TOPIC_OF_TYPE[outcome.type], routing_key(item), raw))
            continue
        assert isinstance(outcome, Rejection)
        rejection = outcome
        if pseudonym is not None:
            raw = pseudonymous_payload(raw, pseudonym)
        if masker is not None:
            rejection, raw = masked_rejection(rejection, raw, masker, admission.pii)
        row = deadletter_row(rejection, Record(COLLECTOR_TOPIC, index, request_id), raw,
                             int(now))
        admission.deadletters.append(row)
        admission.envelopes.append(deadletter_envelope(row))
        admission.reasons[rejection.reason] += 1
        admission.rejected.append({"index": index, "event_id": _event_id(item),
                                   "reason": rejection.reason, "message": rejection.message})
    return admission


def _decide(item: Any, key: ApiKey, validator: Validator, now: float,
            max_event_bytes: int) -> tuple[bytes, ValidEvent | Rejection]:
    """The item's bytes (as produced, or as dead-lettered) and the verdict on them."""
    if isinstance(item, Unparsed):
        return item.raw, Rejection("invalid_json", item.error)
    topic = _ANY_TOPIC
    if isinstance(item, dict):
        tenant = item.get("tenant")
        if tenant is None and key.tenant != ALL_TENANTS:
            item["tenant"] = key.tenant
        elif isinstance(tenant, str) and not key.allows("write", tenant):
            return _dumps(item), Rejection(
                "tenant_mismatch", f"tenant {tenant[:64]!r} is not this key's tenant "
                f"({key.tenant}); leave tenant out or send the key's")
        kind = item.get("type")
        topic = TOPIC_OF_TYPE.get(kind, _ANY_TOPIC) if isinstance(kind, str) else _ANY_TOPIC
    raw = _dumps(item)
    if len(raw) > max_event_bytes:
        return raw, Rejection("too_large", f"event is {len(raw):,} bytes; the limit is "
                              f"{max_event_bytes:,} (CX_COLLECT_MAX_EVENT_BYTES)")
    try:
        return raw, validator.check(raw, topic, now)
    except Exception as error:  # a validator bug must not lose the item or the request
        return raw, Rejection("internal_error",
                              f"validator failed: {type(error).__name__}: {error}")


def _dumps(item: Any) -> bytes:
    try:
        return orjson.dumps(item)
    except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits
        return repr(item).encode()[:65536]


def _event_id(item: Any) -> str | None:
    if isinstance(item, Mapping):
        value = item.get("event_id")
        if isinstance(value, str):
            return value[:_MAX_ECHO]
    return None
