"""Batch building: every message ends up as a row or a dead letter, never nowhere."""

from __future__ import annotations

import base64
from collections import Counter

import orjson

from streams.comments.pii import masker
from streams.core.cases import case_row
from streams.core.contract import Rejection, Validator
from streams.core.facts import answer_of
from streams.core.ingest import build_batch, masked_rejection
from streams.core.rows import Record, as_dict
from streams.core.triggers import latest_feedback, notice
from tests.support.contract_cases import EXAMPLES, NOW
from tests.support.events import hostile


class Exploding(Validator):
    def check(self, raw: bytes, topic: str, now: float):  # type: ignore[override]
        if raw == b"boom":
            raise RuntimeError("validator bug")
        return super().check(raw, topic, now)


def test_every_message_is_accounted_for() -> None:
    validator = Exploding(max_event_bytes=65536, max_age_seconds=30 * 86400)
    bad = hostile(NOW)
    messages = [Record(topic, 0, i, value) for i, (topic, _, value, _) in enumerate(bad)]
    messages.append(Record("cx.feedback", 0, 100, orjson.dumps(EXAMPLES["feedback"])))
    messages.append(Record("cx.feedback", 0, 101, b"boom"))
    batch = build_batch(messages, validator, NOW)
    dead = [as_dict("deadletters", row) for row in batch.rows["deadletters"]]
    assert len(batch) == len(messages)
    assert [row["reason"] for row in dead[:len(bad)]] == [reason for *_, reason in bad]
    assert dead[-1]["reason"] == "internal_error" and "validator bug" in dead[-1]["message"]
    assert dead[-1]["payload"] == b"boom"
    assert [as_dict("feedback", row)["event_id"] for row in batch.rows["feedback"]] == ["fb-0001"]
    tombstone = next(row for row in dead if row["payload"] == b"" and row["offset"] == 5)
    assert tombstone["reason"] == "invalid_json"


PII = "Refund to DE89 3704 0044 0532 0130 00 or call +33 6 12 34 56 78, a.b@example.com"
PII_MASKED = "Refund to [iban] or call [phone], [email]"
CARD = "4111 1111 1111 1111"


def _feedback(event_id: str, **changes: object) -> bytes:
    return orjson.dumps({**EXAMPLES["feedback"], "event_id": event_id, **changes})


def test_comments_are_masked_in_every_row_built_from_them() -> None:
    validator = Validator(max_event_bytes=65536, max_age_seconds=30 * 86400)
    messages = [Record("cx.feedback", 0, 0, _feedback("fb-pii", score=2, comment=PII)),
                Record("cx.feedback", 0, 1, _feedback("fb-clean", comment="Great, 5 stars"))]
    batch = build_batch(messages, validator, NOW, masker())
    rows = [as_dict("feedback", row) for row in batch.rows["feedback"]]
    assert [row["comment"] for row in rows] == [PII_MASKED, "Great, 5 stars"]
    assert batch.pii == {"iban": 1, "phone": 1, "email": 1}
    event = batch.accepted[0]
    assert event.event.comment == PII_MASKED  # type: ignore[union-attr]
    answer = answer_of(event)
    assert answer.comment == PII_MASKED
    assert PII_MASKED in case_row(answer, None, 48 * 3_600_000)
    pii = latest_feedback(batch.accepted, ("refund",))["fb-pii"]
    sent = notice(pii, ("refund",), 48 * 3_600_000, None)
    assert sent is not None and orjson.loads(sent[3])["comment"] == PII_MASKED


def test_events_without_personal_data_pass_untouched() -> None:
    validator = Validator(max_event_bytes=65536, max_age_seconds=30 * 86400)
    messages = [Record("cx.feedback", 0, 0, _feedback("fb-1", comment="order 12345 late")),
                Record("cx.interactions", 0, 1, orjson.dumps(EXAMPLES["interaction"]))]
    plain = build_batch(messages, validator, NOW)
    masked = build_batch(messages, validator, NOW, masker())
    assert masked.rows == plain.rows and not masked.pii
    assert [e.event for e in masked.accepted] == [e.event for e in plain.accepted]


def test_without_a_masker_nothing_is_masked() -> None:
    validator = Validator(max_event_bytes=65536, max_age_seconds=30 * 86400)
    batch = build_batch([Record("cx.feedback", 0, 0, _feedback("fb-1", comment=PII))],
                        validator, NOW)
    assert as_dict("feedback", batch.rows["feedback"][0])["comment"] == PII and not batch.pii


def test_dead_letters_are_masked_in_the_row_and_the_envelope() -> None:
    validator = Validator(max_event_bytes=65536, max_age_seconds=30 * 86400)
    broken = b'{"comment": "card ' + CARD.encode() + b' mail a\\u0040b.io", "score": '
    messages = [Record("cx.feedback", 0, 0, _feedback("fb-bad", score=11, comment=PII)),
                Record("cx.feedback", 0, 1, broken)]
    batch = build_batch(messages, validator, NOW, masker())
    dead = [as_dict("deadletters", row) for row in batch.rows["deadletters"]]
    assert [row["reason"] for row in dead] == ["score_out_of_range", "invalid_json"]
    assert PII_MASKED.encode() in dead[0]["payload"]
    assert dead[1]["payload"] == b'{"comment": "card [card] mail [email]", "score": '
    for row, envelope in zip(dead, batch.deadletters, strict=True):
        sent = orjson.loads(envelope)
        assert base64.b64decode(sent["payload_base64"]) == row["payload"]
        assert sent["payload_size"] == len(row["payload"])
        for secret in ("DE89", "12 34 56 78", "example.com", CARD, "b.io"):
            assert secret.encode() not in row["payload"] and secret not in sent["message"]
    assert batch.pii == {"iban": 1, "phone": 1, "email": 2, "card": 1}


def test_a_rejection_message_is_masked_and_counted_once() -> None:
    counts: Counter[str] = Counter()
    built = masker()
    assert built is not None
    rejection, payload = masked_rejection(
        Rejection("schema_violation", "comment: bad value 'call 0612345678'"),
        b'{"comment": "call 0612345678"}', built, counts)
    assert rejection == Rejection("schema_violation", "comment: bad value 'call [phone]'")
    assert payload == b'{"comment": "call [phone]"}' and counts == {"phone": 1}
    rejection, _ = masked_rejection(Rejection("internal_error", "mail x@y.io"), b"", built,
                                    counts)
    assert rejection.message == "mail [email]" and counts == {"phone": 1, "email": 1}
