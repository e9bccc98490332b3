"""Batch building: every message ends up as a row or a dead letter, never nowhere."""

from __future__ import annotations

import orjson

from streams.core.contract import Validator
from streams.core.ingest import build_batch
from streams.core.rows import Record, as_dict
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
