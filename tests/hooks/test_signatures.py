"""Each provider's signature scheme: the genuine delivery passes, every forgery is a 401."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from streams.hooks import HookError
from streams.hooks.signatures import SCHEMES, TOLERANCE_SECONDS, signed_headers, verify

NOW = 1_795_359_600.0
BODY = b'{"event_type":"form_response","form_response":{"token":"abc"}}'
SECRET = {
    "typeform": "tf-7Qm2pX9vLr4Kd8Wz",
    "zendesk": "dGhpcy1pcy1hLXplbmRlc2stc2lnbmluZy1zZWNyZXQ",
    "standard": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "delighted": "7b1e0d4c9a2f6e8b3d5a1c7f9e2b4d6a",
}
OTHER_SECRET = {
    "typeform": "tf-another-secret",
    "zendesk": "another-zendesk-secret",
    "standard": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
    "delighted": "0000aaaa1111bbbb2222cccc3333dddd",
}
REQUIRED_HEADERS = {
    "typeform": ["typeform-signature"],
    "zendesk": ["x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp"],
    "standard": ["webhook-id", "webhook-timestamp", "webhook-signature"],
    "delighted": ["x-delighted-webhook-signature"],
}
TIMED = ["zendesk", "standard"]


def refused(scheme: str, headers: dict[str, str], body: bytes = BODY,
            secret: str | None = "", now: float = NOW) -> HookError:
    with pytest.raises(HookError) as caught:
        verify(scheme, headers, body, SECRET[scheme] if secret == "" else secret, now)
    assert caught.value.status == 401
    return caught.value


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_genuine_delivery_passes(scheme: str) -> None:
    verify(scheme, signed_headers(scheme, BODY, SECRET[scheme], NOW), BODY, SECRET[scheme], NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_header_names_are_case_insensitive(scheme: str) -> None:
    headers = {name.title(): value
               for name, value in signed_headers(scheme, BODY, SECRET[scheme], NOW).items()}
    verify(scheme, headers, BODY, SECRET[scheme], NOW)


def test_the_schemes_match_the_providers_documented_formulas() -> None:
    """Recomputed here from the documentation's formulas, not from our own signer."""
    mac = hmac.new(SECRET["typeform"].encode(), BODY, hashlib.sha256).digest()
    assert signed_headers("typeform", BODY, SECRET["typeform"], NOW) == {
        "typeform-signature": "sha256=" + base64.b64encode(mac).decode()}
    zendesk = signed_headers("zendesk", BODY, SECRET["zendesk"], NOW)
    stamp = zendesk["x-zendesk-webhook-signature-timestamp"]
    assert stamp == "2026-11-22T15:00:00Z"
    mac = hmac.new(SECRET["zendesk"].encode(), stamp.encode() + BODY, hashlib.sha256).digest()
    assert zendesk["x-zendesk-webhook-signature"] == base64.b64encode(mac).decode()
    mac = hmac.new(SECRET["delighted"].encode(), BODY, hashlib.sha256).hexdigest()
    assert signed_headers("delighted", BODY, SECRET["delighted"], NOW) == {
        "x-delighted-webhook-signature": "sha256=" + mac}


def test_standard_webhooks_known_answer() -> None:
    """The test vector of the Standard Webhooks reference libraries."""
    body = b'{"test": 2432232314}'
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    verify("standard", headers, body, secret, 1614265330)
    assert signed_headers("standard", body, secret, 1614265330,
                          "msg_p5jXN8AQM9LWM0D4loKWxJek") == headers
    refused("standard", headers, body + b" ", secret, 1614265330)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_missing_header_is_refused(scheme: str) -> None:
    genuine = signed_headers(scheme, BODY, SECRET[scheme], NOW)
    for name in REQUIRED_HEADERS[scheme]:
        for headers in ({k: v for k, v in genuine.items() if k != name}, {**genuine, name: " "}):
            error = refused(scheme, headers)
            assert error.reason == "missing_signature"
            assert name in error.message.lower()
    assert refused(scheme, {}).reason == "missing_signature"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_tampered_body_is_refused(scheme: str) -> None:
    headers = signed_headers(scheme, BODY, SECRET[scheme], NOW)
    for body in (BODY.replace(b"abc", b"abd"), BODY + b"\n", b"", BODY[:-1]):
        assert refused(scheme, headers, body).reason == "bad_signature"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_wrong_secret_is_refused_and_never_quoted(scheme: str) -> None:
    headers = signed_headers(scheme, BODY, OTHER_SECRET[scheme], NOW)
    error = refused(scheme, headers)
    assert error.reason == "bad_signature"
    for secret in (SECRET[scheme], OTHER_SECRET[scheme]):
        assert secret not in error.message and secret not in error.log_message
        assert secret not in repr(error) and secret not in str(error)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_secret_answers_like_a_wrong_one(scheme: str) -> None:
    """A tenant without a secret for the source: nothing tells it from a wrong secret."""
    headers = signed_headers(scheme, BODY, OTHER_SECRET[scheme], NOW)
    wrong, missing = refused(scheme, headers), refused(scheme, headers, secret=None)
    assert (missing.status, missing.reason, missing.message) == (401, "bad_signature",
                                                                 wrong.message)
    assert "no" in missing.log_message and "secret" in missing.log_message


@pytest.mark.parametrize("scheme", TIMED)
@pytest.mark.parametrize("skew", [-TOLERANCE_SECONDS - 1, TOLERANCE_SECONDS + 1, -86400, 10**6])
def test_stale_and_future_timestamps_are_refused(scheme: str, skew: int) -> None:
    """Signed correctly but at the wrong time: a replay, or a clock far off."""
    headers = signed_headers(scheme, BODY, SECRET[scheme], NOW + skew)
    error = refused(scheme, headers)
    assert error.reason == "stale_timestamp"
    assert ("old" in error.message) == (skew < 0)


@pytest.mark.parametrize("scheme", TIMED)
@pytest.mark.parametrize("skew", [-TOLERANCE_SECONDS + 1, 0, TOLERANCE_SECONDS - 1])
def test_timestamps_within_the_tolerance_pass(scheme: str, skew: int) -> None:
    verify(scheme, signed_headers(scheme, BODY, SECRET[scheme], NOW + skew), BODY,
           SECRET[scheme], NOW)


@pytest.mark.parametrize("scheme", TIMED)
def test_a_replayed_timestamp_cannot_be_refreshed(scheme: str) -> None:
    """Moving an old delivery's timestamp to now breaks its signature."""
    old = signed_headers(scheme, BODY, SECRET[scheme], NOW - 3600)
    fresh = signed_headers(scheme, BODY, SECRET[scheme], NOW)
    stamp = next(name for name in old if name.endswith("timestamp"))
    assert refused(scheme, {**old, stamp: fresh[stamp]}).reason == "bad_signature"


def test_zendesk_accepts_unix_seconds_and_rejects_nonsense_timestamps() -> None:
    stamp = str(int(NOW))
    mac = hmac.new(SECRET["zendesk"].encode(), stamp.encode() + BODY, hashlib.sha256).digest()
    headers = {"x-zendesk-webhook-signature": base64.b64encode(mac).decode(),
               "x-zendesk-webhook-signature-timestamp": stamp}
    verify("zendesk", headers, BODY, SECRET["zendesk"], NOW)
    for junk in ("yesterday", "2026-13-45T99:00:00Z", "1" * 40):
        error = refused("zendesk", {**headers, "x-zendesk-webhook-signature-timestamp": junk})
        assert error.reason == "malformed_signature"


@pytest.mark.parametrize(("scheme", "header", "value"), [
    ("typeform", "typeform-signature", "sha1=abc"),
    ("typeform", "typeform-signature", "c2lnbmF0dXJl"),
    ("delighted", "x-delighted-webhook-signature", "abcdef0123"),
    ("standard", "webhook-signature", "v1a,c2lnbmF0dXJl v2,abc"),
    ("standard", "webhook-timestamp", "1795359600.5"),
    ("standard", "webhook-timestamp", "-1795359600"),
])
def test_malformed_headers_are_refused(scheme: str, header: str, value: str) -> None:
    headers = {**signed_headers(scheme, BODY, SECRET[scheme], NOW), header: value}
    assert refused(scheme, headers).reason == "malformed_signature"


def test_standard_takes_any_matching_entry_of_the_list() -> None:
    """Key rotation: the sender signs with the old and the new secret."""
    good = signed_headers("standard", BODY, SECRET["standard"], NOW)
    other = signed_headers("standard", BODY, OTHER_SECRET["standard"], NOW)
    rotated = " ".join(["v1a,bm90LWNoZWNrZWQ=", other["webhook-signature"],
                        good["webhook-signature"]])
    verify("standard", {**good, "webhook-signature": rotated}, BODY, SECRET["standard"], NOW)
    only_other = f"{other['webhook-signature']} v1,{'A' * 44}"
    error = refused("standard", {**good, "webhook-signature": only_other})
    assert error.reason == "bad_signature"


def test_standard_signs_the_message_id_too() -> None:
    headers = signed_headers("standard", BODY, SECRET["standard"], NOW, "msg_1")
    assert refused("standard", {**headers, "webhook-id": "msg_2"}).reason == "bad_signature"


def test_delighted_hex_is_case_insensitive() -> None:
    headers = signed_headers("delighted", BODY, SECRET["delighted"], NOW)
    upper = {"x-delighted-webhook-signature": "sha256=" + headers[
        "x-delighted-webhook-signature"].removeprefix("sha256=").upper()}
    verify("delighted", upper, BODY, SECRET["delighted"], NOW)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hostile_header_values_are_a_401(scheme: str) -> None:
    genuine = signed_headers(scheme, BODY, SECRET[scheme], NOW)
    for value in ("\udcff\udcfe", "é" * 20, "x" * 100_000, "sha256=" + "\x00" * 44):
        for name in genuine:
            refused(scheme, {**genuine, name: value})
