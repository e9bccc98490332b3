"""Each provider's webhook signature, checked on the raw body before anything is parsed.

Schemes, as the providers document them (looked up 2026-12-07):

- ``typeform``: ``Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, body)>``; no signed
  timestamp, so replays are absorbed by deterministic event ids instead.
  https://www.typeform.com/developers/webhooks/secure-your-webhooks/
- ``zendesk``: ``X-Zendesk-Webhook-Signature: <base64 HMAC-SHA256(secret, timestamp + body)>``
  with ``X-Zendesk-Webhook-Signature-Timestamp``; the timestamp is checked against a
  tolerance. https://developer.zendesk.com/documentation/webhooks/verifying/
- ``standard`` (Standard Webhooks 1.0, which Formbricks implements): ``webhook-id``,
  ``webhook-timestamp`` (Unix seconds), ``webhook-signature`` (space-separated ``v1,<base64>``
  entries, any one may match), signed content ``id.timestamp.body``, secret ``whsec_<base64>``
  whose decoded bytes are the key.
  https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
  https://formbricks.com/docs/xm-and-surveys/core-features/integrations/webhooks
- ``delighted``: ``X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256(api key, body)>``,
  keyed by the project's private API key; no timestamp (ids dedupe replays). Delighted has
  a documented scheme, so no secret travels in the URL.
  https://app.delighted.com/docs/api/webhooks

Every comparison is ``hmac.compare_digest``. Headers are read lower-cased. The order of
checks (headers, timestamp, then the secret) makes a tenant without a secret answer
exactly like a wrong secret, so a caller learns nothing about which tenants exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final

from streams.hooks.errors import HookError, unauthorized

SCHEMES: Final = ("typeform", "zendesk", "standard", "delighted")
TOLERANCE_SECONDS: Final = 300
"""Signed timestamps further than this from ``now``, either way, are refused (replays)."""
MAX_HEADER_CHARS: Final = 8192

TYPEFORM_HEADER: Final = "typeform-signature"
ZENDESK_HEADER: Final = "x-zendesk-webhook-signature"
ZENDESK_TIMESTAMP: Final = "x-zendesk-webhook-signature-timestamp"
STANDARD_ID: Final = "webhook-id"
STANDARD_TIMESTAMP: Final = "webhook-timestamp"
STANDARD_SIGNATURE: Final = "webhook-signature"
DELIGHTED_HEADER: Final = "x-delighted-webhook-signature"


def standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: ``whsec_`` + base64 (the prefix optional)."""
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a Standard Webhooks secret is whsec_ followed by base64") from None


def check_secret(scheme: str, secret: str) -> None:
    """Raise ValueError (without the secret in it) when ``secret`` cannot serve ``scheme``."""
    if not secret.strip():
        raise ValueError("the secret is empty")
    try:
        secret.encode()
    except UnicodeEncodeError:
        raise ValueError("the secret is not valid Unicode text") from None
    if scheme == "standard" and not standard_key(secret):
        raise ValueError("a Standard Webhooks secret decodes to no key")


def verify(scheme: str, headers: Mapping[str, str], body: bytes, secret: str | None,
           now: float, tolerance: float = TOLERANCE_SECONDS) -> None:
    """Return when ``body`` is signed for ``secret`` under ``scheme``; raise HookError 401."""
    _VERIFIERS[scheme](_lower(headers), body, secret, now, tolerance)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): value for name, value in headers.items()}


def _header(headers: Mapping[str, str], name: str, display: str) -> str:
    value = headers.get(name)
    if not isinstance(value, str) or not value.strip():
        raise unauthorized("missing_signature", f"the {display} header is missing")
    if len(value) > MAX_HEADER_CHARS:
        raise unauthorized("malformed_signature", f"the {display} header is too long")
    return value.strip()


def _utf8(text: str) -> bytes:
    """Never raises: a lone surrogate cannot match anyway, it must not crash either."""
    return text.encode("utf-8", "surrogatepass")


def _mac(key: bytes, *parts: bytes) -> bytes:
    digest = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        digest.update(part)
    return digest.digest()


def _mismatch(display: str, log_message: str | None = None) -> HookError:
    return unauthorized("bad_signature", f"the {display} header does not match the body for "
                        "this tenant's secret", log_message=log_message)


def _no_secret(display: str) -> HookError:
    """Worded as a mismatch for the sender; the log says what the operator must fix."""
    return _mismatch(display, "no secret is configured for this tenant and source "
                     f"(the {display} header could not be checked)")


def _fresh(stamp: float, now: float, tolerance: float, display: str) -> None:
    if abs(now - stamp) > tolerance:
        direction = "old" if stamp < now else "far in the future"
        raise unauthorized("stale_timestamp", f"the {display} header is too {direction} "
                           f"(more than {tolerance:.0f} s from the receiver's clock)")


def _typeform(headers: Mapping[str, str], body: bytes, secret: str | None, now: float,
              tolerance: float) -> None:
    value = _header(headers, TYPEFORM_HEADER, "Typeform-Signature")
    algorithm, _, given = value.partition("=")
    if algorithm != "sha256" or not given:
        raise unauthorized("malformed_signature",
                           "the Typeform-Signature header must be sha256=<base64 digest>")
    if secret is None:
        raise _no_secret("Typeform-Signature")
    expected = base64.b64encode(_mac(_utf8(secret), body)).decode()
    if not hmac.compare_digest(expected.encode(), _utf8(given)):
        raise _mismatch("Typeform-Signature")


def _zendesk(headers: Mapping[str, str], body: bytes, secret: str | None, now: float,
             tolerance: float) -> None:
    given = _header(headers, ZENDESK_HEADER, "X-Zendesk-Webhook-Signature")
    stamp_text = _header(headers, ZENDESK_TIMESTAMP, "X-Zendesk-Webhook-Signature-Timestamp")
    stamp = _instant(stamp_text)
    if stamp is None:
        raise unauthorized("malformed_signature", "the X-Zendesk-Webhook-Signature-Timestamp "
                           "header is not an ISO 8601 time or Unix seconds")
    _fresh(stamp, now, tolerance, "X-Zendesk-Webhook-Signature-Timestamp")
    if secret is None:
        raise _no_secret("X-Zendesk-Webhook-Signature")
    expected = base64.b64encode(_mac(_utf8(secret), _utf8(stamp_text), body)).decode()
    if not hmac.compare_digest(expected.encode(), _utf8(given)):
        raise _mismatch("X-Zendesk-Webhook-Signature")


def _standard(headers: Mapping[str, str], body: bytes, secret: str | None, now: float,
              tolerance: float) -> None:
    message_id = _header(headers, STANDARD_ID, "webhook-id")
    stamp_text = _header(headers, STANDARD_TIMESTAMP, "webhook-timestamp")
    given = _header(headers, STANDARD_SIGNATURE, "webhook-signature")
    if not stamp_text.isascii() or not stamp_text.isdigit() or len(stamp_text) > 12:
        raise unauthorized("malformed_signature",
                           "the webhook-timestamp header must be Unix seconds")
    _fresh(int(stamp_text), now, tolerance, "webhook-timestamp")
    candidates = [entry.partition(",")[2] for entry in given.split()
                  if entry.startswith("v1,")]
    if not candidates:
        raise unauthorized("malformed_signature",
                           "the webhook-signature header has no v1,<base64> entry")
    if secret is None:
        raise _no_secret("webhook-signature")
    try:
        key = standard_key(secret)
    except ValueError:
        raise _no_secret("webhook-signature") from None
    expected = base64.b64encode(
        _mac(key, _utf8(message_id), b".", stamp_text.encode(), b".", body))
    # Check every entry (no early exit), so the time taken says nothing about which matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, _utf8(candidate))
    if not matched:
        raise _mismatch("webhook-signature")


def _delighted(headers: Mapping[str, str], body: bytes, secret: str | None, now: float,
               tolerance: float) -> None:
    value = _header(headers, DELIGHTED_HEADER, "X-Delighted-Webhook-Signature")
    algorithm, _, given = value.partition("=")
    if algorithm != "sha256" or not given:
        raise unauthorized("malformed_signature",
                           "the X-Delighted-Webhook-Signature header must be sha256=<hex digest>")
    if secret is None:
        raise _no_secret("X-Delighted-Webhook-Signature")
    expected = _mac(_utf8(secret), body).hex()
    if not hmac.compare_digest(expected.encode(), _utf8(given.lower())):
        raise _mismatch("X-Delighted-Webhook-Signature")


_VERIFIERS: Final[dict[str, Callable[[Mapping[str, str], bytes, str | None, float, float],
                                     None]]] = {
    "typeform": _typeform, "zendesk": _zendesk, "standard": _standard, "delighted": _delighted}


def _instant(text: str) -> float | None:
    """Unix seconds of an ISO 8601 time (UTC when it has no offset) or of a Unix-seconds string."""
    if text.isascii() and text.isdigit():
        return float(text) if len(text) <= 12 else None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# ------------------------------------------------------------------ the sending side

def signed_headers(scheme: str, body: bytes, secret: str, now: float,
                   message_id: str = "msg_cxpulse") -> dict[str, str]:
    """The headers a provider would send with ``body``: for tests, the demo and the docs."""
    if scheme == "typeform":
        return {TYPEFORM_HEADER: "sha256=" + base64.b64encode(_mac(_utf8(secret), body))
                .decode()}
    if scheme == "zendesk":
        stamp = datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = _mac(_utf8(secret), stamp.encode(), body)
        return {ZENDESK_HEADER: base64.b64encode(digest).decode(), ZENDESK_TIMESTAMP: stamp}
    if scheme == "standard":
        stamp = str(int(now))
        digest = _mac(standard_key(secret), message_id.encode(), b".", stamp.encode(), b".", body)
        return {STANDARD_ID: message_id, STANDARD_TIMESTAMP: stamp,
                STANDARD_SIGNATURE: "v1," + base64.b64encode(digest).decode()}
    if scheme == "delighted":
        return {DELIGHTED_HEADER: "sha256=" + _mac(_utf8(secret), body).hex()}
    raise ValueError(f"unknown signature scheme {scheme!r}")
