"""Personal data never reaches storage: a real broker, ClickHouse server and `cxpulse worker`."""

from __future__ import annotations

import base64
import time

import orjson
import pytest

from streams.warehouse import connect
from tests.support.databases import string_values
from tests.support.events import record, stamp
from tests.support.services import consume_all, produce, table_count, wait_until, worker_env

pytestmark = pytest.mark.integration

EMAIL, PHONE = "jane.doe@example.com", "+33 6 12 34 56 78"
CARD, IBAN = "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00"
COMMENT = f"I want a refund! Card {CARD}, IBAN {IBAN}, call {PHONE} or mail {EMAIL}"
MASKED = "I want a refund! Card [card], IBAN [iban], call [phone] or mail [email]"
SECRETS = [secret.encode() for secret in (
    EMAIL, "jane.doe", "example.com", PHONE, "12 34 56 78", "612345678", CARD,
    "4111111111111111", IBAN, "DE89370400440532013000", "3704 0044")]


def test_personal_data_is_masked_everywhere_it_is_stored(kafka, server_url, start_worker,
                                                         tmp_path) -> None:
    now = time.time()
    worker = start_worker(worker_env(kafka, server_url, tmp_path))
    worker.wait_ready()
    feedback = {"event_id": "pii-1", "type": "feedback", "occurred_at": stamp(now - 60),
                "tenant": "acme-shop", "channel": "web", "touchpoint": "checkout",
                "survey": "nps", "score": 2, "comment": COMMENT}
    out_of_range = {**feedback, "event_id": "pii-2", "score": 11}
    malformed = orjson.dumps({**feedback, "event_id": "pii-3"})[:-2].replace(b"@", b"\\u0040")
    produce(kafka, [record(feedback), record(out_of_range), ("cx.feedback", None, malformed)])

    warehouse = connect(server_url)
    db = warehouse.database
    wait_until(lambda: table_count(warehouse, "followup_cases") == 1, 90, "the case")
    wait_until(lambda: table_count(warehouse, "deadletters") == 2, 30, "the dead letters")
    wait_until(lambda: table_count(warehouse, "notifications") == 1, 30, "the notification")
    stored = warehouse.query(f"SELECT comment FROM {db}.feedback FINAL")
    assert [row["comment"] for row in stored] == [MASKED]
    assert warehouse.query(f"SELECT comment FROM {db}.followup_cases FINAL")[0]["comment"] \
        == MASKED

    values = string_values(warehouse)
    assert {"feedback", "deadletters", "followup_cases", "notifications"} <= set(values)
    assert any(MASKED.encode() in value for value in values["deadletters"])
    leaks = [(table, secret) for table, found in values.items() for value in found
             for secret in SECRETS if secret in value]
    assert leaks == []

    envelopes = [orjson.loads(value) for value in consume_all(kafka, "cx.deadletter", 2)]
    assert sorted(e["reason"] for e in envelopes) == ["invalid_json", "score_out_of_range"]
    notices = consume_all(kafka, "cx.notifications", 1)
    assert orjson.loads(notices[0])["comment"] == MASKED
    sent = [base64.b64decode(e["payload_base64"]) for e in envelopes] + \
        [e["message"].encode() for e in envelopes] + notices
    assert [secret for value in sent for secret in SECRETS if secret in value] == []

    # Counted, never silent: once per kind in each of the three messages (at least: any
    # other stage that masks the same comment counts its own masking too).
    wait_until(lambda: worker.counter("cx_pii_masked_total") >= 12, 30, "masking counted")
    for kind in ("email", "phone", "card", "iban"):
        assert worker.counter("cx_pii_masked_total", kind=kind) >= 3, kind
