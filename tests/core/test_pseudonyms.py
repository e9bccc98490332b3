"""Pseudonymous customer ids at ingest: rows and dead letters carry only the pseudonym."""

from __future__ import annotations

import orjson

from streams.core.contract import TOPIC_OF_TYPE, Validator
from streams.core.ingest import build_batch
from streams.core.pseudonyms import pseudonymiser, pseudonymous_payload
from streams.core.rows import Record, as_dict
from tests.support.events import stamp

NOW = 1_795_344_000.0
SECRET = b"deployment secret"


def test_a_pseudonym_is_stable_per_secret_and_never_the_id() -> None:
    one, other = pseudonymiser(SECRET), pseudonymiser(b"another")
    assert one("cust-1") == one("cust-1") != other("cust-1")
    assert one("cust-1") != one("cust-2") and "cust" not in one("cust-1")
    assert len(one("cust-1")) == 64


def test_dead_letters_get_the_pseudonym_in_their_customer_id_members() -> None:
    p = pseudonymiser(SECRET)
    payload = b'{"customer_id" : "cust-1", "score": 11, "x": {"customer_id":"c\\"2"}}'
    assert pseudonymous_payload(payload, p) == (
        b'{"customer_id" : "' + p("cust-1").encode() + b'", "score": 11, "x": {"customer_id":"'
        + p('c\\"2').encode() + b'"}}')
    assert pseudonymous_payload(b'\xff{"comment": "cust-1"}', p) == b'\xff{"comment": "cust-1"}'


def test_build_batch_stores_only_pseudonyms() -> None:
    p = pseudonymiser(SECRET)
    good = {"event_id": "e1", "type": "feedback", "occurred_at": stamp(NOW - 60),
            "tenant": "acme-shop", "channel": "web", "survey": "nps", "score": 2,
            "customer_id": "cust-1"}
    anonymous = {**good, "event_id": "e2"}
    del anonymous["customer_id"]
    bad = {**good, "event_id": "e3", "score": 11}
    topic = TOPIC_OF_TYPE["feedback"]
    batch = build_batch([Record(topic, 0, i, orjson.dumps(e))
                         for i, e in enumerate((good, anonymous, bad))],
                        Validator(max_event_bytes=65536, max_age_seconds=10**9), NOW,
                        pseudonym=p)
    assert [as_dict("feedback", row)["customer_id"] for row in batch.rows["feedback"]] == [
        p("cust-1"), ""]
    stored = repr(batch.rows).encode() + b"".join(batch.deadletters)
    assert b"cust-1" not in stored and p("cust-1").encode() in repr(batch.rows).encode()
    assert batch.rows["deadletters"][0][-1] == orjson.dumps(bad).replace(
        b"cust-1", p("cust-1").encode())
