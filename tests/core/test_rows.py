"""Warehouse rows and dead-letter envelopes (pure)."""

from __future__ import annotations

import base64

import fastjsonschema
import orjson

from streams.core.contract import Rejection, Validator, load_event_schemas
from streams.core.rows import (
    COLUMNS,
    MAX_ENVELOPE_PAYLOAD,
    Batch,
    Record,
    as_dict,
    deadletter_envelope,
    deadletter_row,
    event_row,
)
from tests.support.contract_cases import EXAMPLES, NOW

validator = Validator(max_event_bytes=65536, max_age_seconds=30 * 86400)
check_envelope = fastjsonschema.compile(load_event_schemas()["deadletter"])


def test_event_row_defaults_and_utc() -> None:
    minimal = {k: v for k, v in EXAMPLES["feedback"].items()
               if k in ("event_id", "type", "occurred_at", "tenant", "channel", "survey", "score")}
    event = validator.check(orjson.dumps(minimal | {"survey": "csat"}), "cx.feedback", NOW)
    row = as_dict("feedback", event_row(event, Record("cx.feedback", 2, 41), 123))
    assert row["touchpoint"] == "unspecified" and row["attributes"] == "{}"
    assert row["scale"] == 5, "CSAT without scale is 5-point"
    assert (row["occurred_at"], row["occurred_ms"], row["utc_offset_min"]) == (1795344300, 0, 420)
    assert (row["source_partition"], row["source_offset"], row["ingested_at"]) == (2, 41, 123)
    nps = validator.check(orjson.dumps(minimal | {"survey": "nps"}), "cx.feedback", NOW)
    assert as_dict("feedback", event_row(nps, Record("t", 0, 0), 0))["scale"] == 0


def test_attributes_are_stored_as_json() -> None:
    event = validator.check(orjson.dumps(EXAMPLES["interaction"]), "cx.interactions", NOW)
    row = as_dict("interactions", event_row(event, Record("t", 0, 0), 0))
    assert orjson.loads(row["attributes"]) == EXAMPLES["interaction"]["attributes"]
    assert row["value"] == 129.9 and row["currency"] == "EUR"


def test_deadletter_envelope_matches_its_schema_and_keeps_bytes() -> None:
    payload = b"\xff\x00{not json"
    row = deadletter_row(Rejection("invalid_json", "bad"), Record("cx.feedback", 1, 7), payload,
                         1795344300)
    envelope = orjson.loads(deadletter_envelope(row))
    check_envelope(envelope)
    assert base64.b64decode(envelope["payload_base64"]) == payload
    assert envelope["received_at"] == "2026-11-22T10:45:00Z"
    assert not envelope["payload_truncated"] and envelope["payload_size"] == len(payload)


def test_huge_payloads_are_cut_in_the_envelope_only() -> None:
    payload = b"x" * (MAX_ENVELOPE_PAYLOAD + 10)
    row = deadletter_row(Rejection("too_large", "big"), Record("cx.feedback", 0, 0), payload, 0)
    envelope = orjson.loads(deadletter_envelope(row))
    check_envelope(envelope)
    assert envelope["payload_truncated"] and envelope["payload_size"] == len(payload)
    assert len(base64.b64decode(envelope["payload_base64"])) == MAX_ENVELOPE_PAYLOAD
    assert as_dict("deadletters", row)["payload"] == payload


def test_batch_groups_rows_by_table() -> None:
    batch = Batch()
    for kind in ("interaction", "feedback", "followup", "feedback"):
        topic = {"interaction": "cx.interactions", "feedback": "cx.feedback",
                 "followup": "cx.followups"}[kind]
        batch.add_event(validator.check(orjson.dumps(EXAMPLES[kind]), topic, NOW),
                        Record(topic, 0, 0), 0)
    batch.add_rejection(Rejection("invalid_json", "x"), Record("cx.feedback", 0, 9), b"", 0)
    assert {t: len(r) for t, r in batch.rows.items()} == {
        "interactions": 1, "feedback": 2, "followups": 1, "deadletters": 1,
        "feedback_revisions": 2}
    assert dict(zip(COLUMNS["feedback_revisions"], batch.rows["feedback_revisions"][0],
                    strict=True)) == {
        "event_id": "fb-0001", "revision": 0, "tenant": "acme-shop", "channel": "mobile_app",
        "touchpoint": "delivery", "minute": 1_795_344_300, "has_comment": 1,
        "needs_followup": 1}
    assert len(batch) == 5 and len(batch.accepted) == 4 and len(batch.deadletters) == 1


def test_a_written_batch_keeps_only_what_its_metrics_read() -> None:
    batch = Batch()
    events = [validator.check(orjson.dumps(EXAMPLES[kind]), topic, NOW)
              for kind, topic in (("interaction", "cx.interactions"), ("feedback", "cx.feedback"))]
    for event in events:
        batch.add_event(event, Record("cx.x", 0, 0), 0)
    batch.add_rejection(Rejection("invalid_json", "x"), Record("cx.feedback", 0, 9), b"", 0)
    batch.pii["email"] += 2
    written = batch.written()
    assert set(written.rows) == {"deadletters"}
    assert written.rows["deadletters"] == batch.rows["deadletters"]
    assert written.accepted == [] and written.deadletters == []
    assert written.occurred_ms == [event.occurred_ms for event in events]
    assert written.pii == {"email": 2}
    assert Batch().written().rows == {}
