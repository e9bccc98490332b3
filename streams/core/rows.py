"""Warehouse rows built from validated events and rejections, with no I/O.

Rows are tuples in the column order of ``COLUMNS`` (names as in
``schemas/clickhouse``; a test checks them against the live tables on both
engines): the ClickHouse driver takes them as they are, which is several
times cheaper per row than dicts.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple, Protocol

import orjson
from msgspec import UNSET

from streams.core.contract import Rejection, ValidEvent
from streams.core.events import AnyEvent, Feedback, Followup, Interaction
from streams.core.stats import minute_of, needs_followup

TABLE_OF_TYPE: Final = {"interaction": "interactions", "feedback": "feedback",
                        "followup": "followups"}
DEADLETTER_TABLE: Final = "deadletters"
REVISIONS_TABLE: Final = "feedback_revisions"
"""Where each revision of a feedback counts: the raw table keeps only the highest once its
parts merge, scoring needs the older ones' places too (``queries.scoring``)."""

_COMMON: Final = ("event_id", "tenant", "channel", "touchpoint", "occurred_at", "occurred_ms",
                  "utc_offset_min", "customer_id", "locale", "attributes")
_SOURCE: Final = ("ingested_at", "source_partition", "source_offset")
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "interactions": (*_COMMON, "kind", "outcome", "duration_ms", "value", "currency", *_SOURCE),
    "feedback": (*_COMMON, "survey", "score", "scale", "comment", "interaction_id", "revision",
                 *_SOURCE),
    "followups": (*_COMMON, "feedback_id", "action", "agent", *_SOURCE),
    DEADLETTER_TABLE: ("received_at", "reason", "message", "topic", "partition", "offset",
                       "payload"),
    REVISIONS_TABLE: ("event_id", "revision", "tenant", "channel", "touchpoint", "minute",
                      "has_comment", "needs_followup"),
}
Row = tuple[Any, ...]


def _interaction(e: Interaction) -> Row:
    return (e.kind, e.outcome or "", None if e.duration_ms is UNSET else e.duration_ms,
            None if e.value is UNSET else e.value, e.currency or "")


def _feedback(e: Feedback) -> Row:
    return (e.survey, e.score, e.scale_or_default, e.comment or "", e.interaction_id or "",
            e.revision)


def _followup(e: Followup) -> Row:
    return e.feedback_id, e.action, e.agent or ""


_TYPE_VALUES: Final[dict[str, Callable[[Any], Row]]] = {
    "interaction": _interaction, "feedback": _feedback, "followup": _followup}


class Message(Protocol):
    """A consumed Kafka message as the core needs it (aiokafka's ConsumerRecord is one).

    Its topic, partition and offset go on every row, so any row can be traced back.
    """

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


class Record(NamedTuple):
    """A message built by hand (tests, benchmarks), shaped like aiokafka's ConsumerRecord."""

    topic: str
    partition: int
    offset: int
    value: bytes | None = None


def event_row(event: ValidEvent, source: Message, ingested_at: int) -> Row:
    """The raw-table row of an event, in ``COLUMNS[TABLE_OF_TYPE[event.type]]`` order."""
    e: AnyEvent = event.event
    ms = event.occurred_ms
    return (e.event_id, *e.scope, ms // 1000, ms % 1000, event.utc_offset_min,
            e.customer_id or "", e.locale or "",
            orjson.dumps(e.attributes).decode() if e.attributes else "{}",
            *_TYPE_VALUES[e.TYPE](e), ingested_at, source.partition, source.offset)


def revision_row(event: ValidEvent) -> Row:
    """A feedback revision's place, in ``COLUMNS[REVISIONS_TABLE]`` order."""
    e = event.event
    assert isinstance(e, Feedback)
    ms = event.occurred_ms
    return (e.event_id, e.revision, *e.scope, minute_of(ms) // 1000,
            int(bool(e.comment)), int(needs_followup(e.survey, e.score, e.scale_or_default)))


def deadletter_row(rejection: Rejection, source: Message, payload: bytes,
                   received_at: int) -> Row:
    return (received_at, rejection.reason, rejection.message, source.topic, source.partition,
            source.offset, payload)


def as_dict(table: str, row: Row) -> dict[str, Any]:
    """A row by column name: for people and tests, not the hot path."""
    return dict(zip(COLUMNS[table], row, strict=True))


MAX_ENVELOPE_PAYLOAD: Final = 512 * 1024


def deadletter_envelope(row: Row) -> bytes:
    """The ``cx.deadletter`` message for a dead-letter row (schemas/events/deadletter.json).

    Payloads over 512 KiB are cut in the Kafka envelope (``payload_truncated``) so a
    huge message can never make the dead-letter publish itself fail; the
    ClickHouse row always keeps every byte.
    """
    received_at, reason, message, topic, partition, offset, payload = row
    return orjson.dumps({
        "received_at": datetime.fromtimestamp(received_at, UTC).isoformat()
        .replace("+00:00", "Z"),
        "reason": reason,
        "message": message,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "payload_base64": base64.b64encode(payload[:MAX_ENVELOPE_PAYLOAD]).decode(),
        "payload_size": len(payload),
        "payload_truncated": len(payload) > MAX_ENVELOPE_PAYLOAD,
    })


@dataclass(slots=True)
class Batch:
    """Rows per table for one consumed batch, plus the dead-letter envelopes to publish."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    deadletters: list[bytes] = field(default_factory=list)
    accepted: list[ValidEvent] = field(default_factory=list)
    pii: Counter[str] = field(default_factory=Counter)
    """Personal data masked in this batch, by kind (``core.ingest.Masker``)."""
    occurred_ms: list[int] = field(default_factory=list)
    """The accepted events' times, once ``written`` dropped the events."""

    def written(self) -> Batch:
        """What is still read of the batch once it is written (its metrics): the dead
        letters' rows, the masked-PII counts and the events' times.

        A catch-up holds several written batches until they are settled; their rows and
        events were most of a worker's peak memory, and a higher peak leaves a higher
        resident size behind (freed memory stays pinned by the few objects still alive).
        """
        dead = self.rows.get(DEADLETTER_TABLE)
        return Batch(rows={DEADLETTER_TABLE: dead} if dead else {}, pii=self.pii,
                     occurred_ms=[event.occurred_ms for event in self.accepted])

    def add_event(self, event: ValidEvent, source: Message, now: int) -> None:
        self.accepted.append(event)
        self.rows.setdefault(TABLE_OF_TYPE[event.type], []).append(
            event_row(event, source, now))
        if event.type == "feedback":
            self.rows.setdefault(REVISIONS_TABLE, []).append(revision_row(event))

    def add_rejection(self, rejection: Rejection, source: Message, payload: bytes,
                      now: int) -> None:
        row = deadletter_row(rejection, source, payload, now)
        self.rows.setdefault(DEADLETTER_TABLE, []).append(row)
        self.deadletters.append(deadletter_envelope(row))

    def __len__(self) -> int:
        """The messages in the batch (a feedback's revision row is not one more)."""
        return sum(len(rows) for table, rows in self.rows.items() if table != REVISIONS_TABLE)
