"""Warehouse rows built from validated events and rejections, with no I/O.

Column names match ``schemas/clickhouse``; a test checks them against the
live tables on both ClickHouse engines.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from streams.core.contract import Rejection, ValidEvent

TABLE_OF_TYPE: Final = {"interaction": "interactions", "feedback": "feedback",
                        "followup": "followups"}
DEADLETTER_TABLE: Final = "deadletters"

_TYPE_COLUMNS: Final[dict[str, tuple[tuple[str, Any], ...]]] = {
    # (column, default when the optional field is absent)
    "interaction": (("kind", ""), ("outcome", ""), ("duration_ms", None), ("value", None),
                    ("currency", "")),
    "feedback": (("survey", ""), ("score", 0), ("scale", 0), ("comment", ""),
                 ("interaction_id", "")),
    "followup": (("feedback_id", ""), ("action", ""), ("agent", "")),
}


@dataclass(frozen=True, slots=True)
class Source:
    """Where a message came from: kept on every row so any row can be traced back."""

    topic: str
    partition: int
    offset: int


def event_row(event: ValidEvent, source: Source, ingested_at: int) -> dict[str, Any]:
    data = event.fields
    attributes = data.get("attributes")
    row: dict[str, Any] = {
        "event_id": data["event_id"],
        "tenant": data["tenant"],
        "channel": data["channel"],
        "touchpoint": data.get("touchpoint") or "unspecified",
        "occurred_at": event.occurred_ms // 1000,
        "occurred_ms": event.occurred_ms % 1000,
        "utc_offset_min": event.utc_offset_min,
        "customer_id": data.get("customer_id", ""),
        "locale": data.get("locale", ""),
        "attributes": orjson.dumps(attributes).decode() if attributes else "{}",
    }
    for column, default in _TYPE_COLUMNS[event.type]:
        row[column] = data.get(column, default)
    if event.type == "feedback":
        row["score"] = int(row["score"])
        if data["survey"] == "csat":
            row["scale"] = int(data.get("scale", 5))
    row["ingested_at"] = ingested_at
    row["source_partition"] = source.partition
    row["source_offset"] = source.offset
    return row


def deadletter_row(rejection: Rejection, source: Source, payload: bytes,
                   received_at: int) -> dict[str, Any]:
    return {
        "received_at": received_at,
        "reason": rejection.reason,
        "message": rejection.message,
        "topic": source.topic,
        "partition": source.partition,
        "offset": source.offset,
        "payload": payload,
    }


MAX_ENVELOPE_PAYLOAD: Final = 512 * 1024


def deadletter_envelope(row: dict[str, Any]) -> bytes:
    """The ``cx.deadletter`` message for a dead-letter row (schemas/events/deadletter.json).

    Payloads over 512 KiB are cut in the Kafka envelope (``payload_truncated``) so a
    huge message can never make the dead-letter publish itself fail; the
    ClickHouse row always keeps every byte.
    """
    payload: bytes = row["payload"]
    return orjson.dumps({
        "received_at": datetime.fromtimestamp(row["received_at"], UTC).isoformat()
        .replace("+00:00", "Z"),
        "reason": row["reason"],
        "message": row["message"],
        "topic": row["topic"],
        "partition": row["partition"],
        "offset": row["offset"],
        "payload_base64": base64.b64encode(payload[:MAX_ENVELOPE_PAYLOAD]).decode(),
        "payload_size": len(payload),
        "payload_truncated": len(payload) > MAX_ENVELOPE_PAYLOAD,
    })


@dataclass(slots=True)
class Batch:
    """Rows per table for one consumed batch, plus the dead-letter envelopes to publish."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deadletters: list[bytes] = field(default_factory=list)
    accepted: list[ValidEvent] = field(default_factory=list)

    def add_event(self, event: ValidEvent, source: Source, now: int) -> None:
        self.accepted.append(event)
        self.rows.setdefault(TABLE_OF_TYPE[event.type], []).append(
            event_row(event, source, now))

    def add_rejection(self, rejection: Rejection, source: Source, payload: bytes,
                      now: int) -> None:
        row = deadletter_row(rejection, source, payload, now)
        self.rows.setdefault(DEADLETTER_TABLE, []).append(row)
        self.deadletters.append(deadletter_envelope(row))

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.rows.values())
