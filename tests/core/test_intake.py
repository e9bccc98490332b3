"""The collector's door without services: bodies into items, items into records or rejections."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.comments.pii import masker
from streams.core.contract import Validator
from streams.core.intake import COLLECTOR_TOPIC, IntakeError, Unparsed, admit, decode_body
from streams.core.keys import KeyRing, new_key, presented_key
from streams.core.pseudonyms import pseudonymiser
from streams.core.rows import as_dict
from tests.support.events import stamp

NOW = 1_790_000_000.0
VALIDATOR = Validator(max_event_bytes=65536, max_age_seconds=30 * 86400)
WRITE, _ = new_key("acme-shop", "write", "widget", 0)
ADMIN, _ = new_key("", "admin", "ops", 0)
LIMITS = {"max_body_bytes": 4096, "max_events": 50}


def feedback(event_id: str = "fb-1", **changes: object) -> dict:
    return {"event_id": event_id, "type": "feedback", "occurred_at": stamp(NOW - 60),
            "channel": "web", "survey": "nps", "score": 9} | changes


def _dumps(value: object) -> bytes:
    return json.dumps(value).encode()  # integers of any size, unlike orjson


def decode(body: bytes, content_type: str | None = "application/json",
           encoding: str | None = None) -> list:
    return decode_body(body, content_type=content_type, content_encoding=encoding, **LIMITS)


def refused(body: bytes, content_type: str | None = "application/json",
            encoding: str | None = None) -> IntakeError:
    with pytest.raises(IntakeError) as caught:
        decode(body, content_type, encoding)
    return caught.value


# ------------------------------------------------------------------ decode_body

def test_one_object_an_array_and_ndjson_are_items() -> None:
    one = feedback()
    assert decode(orjson.dumps(one)) == [one]
    assert decode(orjson.dumps([one, one])) == [one, one]
    assert decode(orjson.dumps(one), content_type=None) == [one]
    assert decode(orjson.dumps(one), "Application/JSON; charset=UTF-8") == [one]
    lines = b"\n".join([orjson.dumps(one), b"", b"  ", orjson.dumps(one) + b"\r"])
    assert decode(lines, "application/x-ndjson") == [one, one]


def test_a_bad_ndjson_line_is_an_item_the_others_still_count() -> None:
    items = decode(orjson.dumps(feedback()) + b"\n{not json\n" + b'"\xff"', "application/x-ndjson")
    assert items[0] == feedback()
    assert isinstance(items[1], Unparsed) and items[1].raw == b"{not json"
    assert isinstance(items[2], Unparsed)


def test_gzip_bodies_are_inflated_and_a_bomb_stops_at_the_cap() -> None:
    body = orjson.dumps([feedback(f"fb-{i}") for i in range(3)])
    assert len(decode(gzip.compress(body), encoding="gzip")) == 3
    assert len(decode(gzip.compress(body[:40]) + gzip.compress(body[40:]), encoding="gzip")) == 3
    bomb = gzip.compress(b"[" + b" " * 4_000_000 + b"]", compresslevel=9)
    assert len(bomb) < 4096
    error = refused(bomb, encoding="gzip")
    assert (error.status, error.reason) == (413, "too_large")
    assert "CX_COLLECT_MAX_BODY_BYTES" in error.message


def test_what_cannot_be_read_at_all_is_400() -> None:
    cases = [b"", b"   ", b"{not json", b'{"a": "\xff\xfe"}', b"[" * 2000 + b"]" * 2000,
             b'{"score": NaN}']
    for body in cases:
        assert (refused(body).status, refused(body).reason) == (400, "invalid_json"), body
    assert refused(b"not gzip", encoding="gzip").status == 400
    assert refused(gzip.compress(b"[1, 2, 3]")[:-10], encoding="gzip").reason == "invalid_gzip"
    assert refused(b"\n \n", "application/x-ndjson").status == 400


def test_wrong_content_type_encoding_or_size_is_refused() -> None:
    assert refused(b"{}", "text/html").status == 415
    assert refused(b"{}", "application/json; charset=latin-1").status == 415
    assert refused(b"{}", encoding="br").status == 415
    assert refused(zlib.compress(b"{}"), encoding="deflate").reason == "unsupported_encoding"
    big = refused(b"[" + b"1," * 3000 + b"1]")
    assert (big.status, big.reason) == (413, "too_large")
    many = refused(orjson.dumps([{}] * 51))
    assert (many.status, many.reason) == (413, "too_many_events")


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=600) | st.builds(_dumps, st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4), max_leaves=20)),
       content_type=st.none() | st.text(max_size=40) | st.sampled_from(
           ["application/json", "application/x-ndjson", "application/json;charset=utf-8"]),
       encoding=st.none() | st.text(max_size=12) | st.just("gzip"),
       gzipped=st.booleans())
def test_any_body_and_headers_give_a_typed_answer(body: bytes, content_type: str | None,
                                                  encoding: str | None, gzipped: bool) -> None:
    """Fuzz: never an exception other than IntakeError; every item is then admitted or
    rejected with a known reason."""
    if gzipped and encoding == "gzip":
        body = gzip.compress(body)
    try:
        items = decode(body, content_type, encoding)
    except IntakeError as error:
        assert error.status in (400, 413, 415) and error.reason and error.message
        return
    outcome = admit(items, WRITE, VALIDATOR, NOW, max_event_bytes=1024, request_id=7)
    assert len(outcome.records) + len(outcome.rejected) == len(items)
    assert len(outcome.deadletters) == len(outcome.envelopes) == len(outcome.rejected)


@settings(max_examples=300, deadline=None)
@given(headers=st.dictionaries(st.sampled_from(["authorization", "x-write-key", "x-api-key",
                                                "content-type"]),
                               st.text(max_size=80) | st.sampled_from(
                                   ["Basic !!", "Basic " + base64.b64encode(b"\xff:").decode(),
                                    "Bearer cxp_0123456789ab_" + "A" * 43, "Bearer "])))
def test_any_auth_headers_give_a_key_or_none(headers: dict[str, str]) -> None:
    text = presented_key(headers)
    assert text is None or isinstance(text, str)
    assert KeyRing([WRITE]).authenticate(text) is None


# ------------------------------------------------------------------ admit

def test_a_mixed_batch_gets_a_per_item_answer() -> None:
    items = [feedback("ok-1"), feedback("other", tenant="globex"), feedback("bad", score=11),
             feedback("mine", tenant="acme-shop"), {"event_id": "nope", "type": "survey"}, 42,
             Unparsed(b"{oops", "line is not valid UTF-8 JSON: x"),
             feedback("huge", comment="x" * 2000)]
    outcome = admit(items, WRITE, VALIDATOR, NOW, max_event_bytes=1024, request_id=99)
    assert [(topic, key) for topic, key, _ in outcome.records] == [
        ("cx.feedback", b"ok-1"), ("cx.feedback", b"mine")]
    assert orjson.loads(outcome.records[0][2])["tenant"] == "acme-shop"  # from the key
    assert [(r["index"], r["event_id"], r["reason"]) for r in outcome.rejected] == [
        (1, "other", "tenant_mismatch"), (2, "bad", "score_out_of_range"),
        (4, "nope", "schema_violation"), (5, None, "schema_violation"),
        (6, None, "invalid_json"), (7, "huge", "too_large")]
    assert "globex" in outcome.rejected[0]["message"]
    assert "CX_COLLECT_MAX_EVENT_BYTES" in outcome.rejected[-1]["message"]
    rows = [as_dict("deadletters", row) for row in outcome.deadletters]
    assert {(row["topic"], row["offset"]) for row in rows} == {(COLLECTOR_TOPIC, 99)}
    assert [row["partition"] for row in rows] == [1, 2, 4, 5, 6, 7]
    assert rows[4]["payload"] == b"{oops"
    assert outcome.reasons["schema_violation"] == 2
    envelope = orjson.loads(outcome.envelopes[0])
    assert envelope["reason"] == "tenant_mismatch" and envelope["topic"] == COLLECTOR_TOPIC
    assert orjson.loads(base64.b64decode(envelope["payload_base64"]))["tenant"] == "globex"


def test_followups_are_keyed_by_their_feedback() -> None:
    followup = {"event_id": "fu-1", "type": "followup", "occurred_at": stamp(NOW - 30),
                "channel": "web", "feedback_id": "fb-1", "action": "contacted"}
    outcome = admit([followup], WRITE, VALIDATOR, NOW, max_event_bytes=1024, request_id=1)
    assert [(topic, key) for topic, key, _ in outcome.records] == [("cx.followups", b"fb-1")]


def test_an_admin_key_writes_any_tenant_but_must_name_it() -> None:
    items = [feedback("a", tenant="globex"), feedback("b", tenant="acme-shop"), feedback("c")]
    outcome = admit(items, ADMIN, VALIDATOR, NOW, max_event_bytes=1024, request_id=1)
    assert [key for _, key, _ in outcome.records] == [b"a", b"b"]
    assert [(r["event_id"], r["reason"]) for r in outcome.rejected] == [("c", "schema_violation")]
    assert "tenant" in outcome.rejected[0]["message"]


def test_dead_letters_are_masked_accepted_events_are_sent_as_they_are() -> None:
    comment = "call me on +33 6 12 34 56 78 or jane.doe@example.com"
    items = [feedback("ok", comment=comment), feedback("bad", score=12, comment=comment)]
    outcome = admit(items, WRITE, VALIDATOR, NOW, max_event_bytes=4096, request_id=1,
                    masker=masker())
    assert orjson.loads(outcome.records[0][2])["comment"] == comment
    payload = as_dict("deadletters", outcome.deadletters[0])["payload"]
    assert b"example.com" not in payload and b"[email]" in payload and b"[phone]" in payload
    assert outcome.pii == {"email": 1, "phone": 1}


def test_dead_letters_carry_pseudonymous_customer_ids_when_asked() -> None:
    pseudonym = pseudonymiser(b"secret")
    items = [feedback("ok", customer_id="cust-1"), feedback("bad", score=12,
                                                            customer_id="cust-1")]
    outcome = admit(items, WRITE, VALIDATOR, NOW, max_event_bytes=4096, request_id=1,
                    pseudonym=pseudonym)
    assert orjson.loads(outcome.records[0][2])["customer_id"] == "cust-1"  # the worker's job
    payload = as_dict("deadletters", outcome.deadletters[0])["payload"]
    assert orjson.loads(payload)["customer_id"] == pseudonym("cust-1")
    assert b"cust-1" not in outcome.envelopes[0]


def test_a_validator_bug_rejects_the_item_not_the_request() -> None:
    class Broken(Validator):
        def check(self, raw: bytes, topic: str, now: float):  # type: ignore[override]
            raise RuntimeError("bug")

    broken = Broken(max_event_bytes=65536, max_age_seconds=86400)
    outcome = admit([feedback()], WRITE, broken, NOW, max_event_bytes=1024, request_id=1)
    assert outcome.rejected[0]["reason"] == "internal_error"
