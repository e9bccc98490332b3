"""Pseudonymous customer ids at ingest (``CX_CUSTOMER_ID_HASH``), with no I/O.

With a per-deployment secret, every stored ``customer_id`` is an HMAC-SHA256 of the id
as sent (64 hex digits): the same customer gets the same pseudonym everywhere, so
journeys, cases and cohorts still join, while the stored data never holds the id in
clear. Whoever has the secret can still find a customer by hashing the id
(``cxpulse forget`` does). Dead letters get the same treatment: a ``"customer_id":
"<id>"`` member of the payload is replaced by its pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from functools import lru_cache

from msgspec.structs import replace

from streams.core.contract import ValidEvent

Pseudonym = Callable[[str], str]
"""A customer id as sent -> the id stored."""
_MEMBER = re.compile(rb'("customer_id"\s*:\s*")((?:[^"\\]|\\.)*)(")')


def pseudonymiser(secret: bytes) -> Pseudonym:
    """The pseudonym of a customer id under ``secret`` (memoised: customers come back)."""
    @lru_cache(maxsize=65536)
    def pseudonym(customer_id: str) -> str:
        return hmac.new(secret, customer_id.encode(), hashlib.sha256).hexdigest()

    return pseudonym


def pseudonymous_event(event: ValidEvent, pseudonym: Pseudonym) -> ValidEvent:
    """The event with its customer id replaced by the pseudonym, before any row is built."""
    e = event.event
    if not e.customer_id:
        return event
    return event._replace(event=replace(e, customer_id=pseudonym(e.customer_id)))


def pseudonymous_payload(payload: bytes, pseudonym: Pseudonym) -> bytes:
    """A dead letter's bytes with each ``"customer_id": "<id>"`` value (as written, JSON
    escapes and all) replaced by its pseudonym; anything else is left as received."""
    def swap(found: re.Match[bytes]) -> bytes:
        text = found[2].decode("utf-8", "surrogateescape")
        return found[1] + pseudonym(text).encode() + found[3]

    return _MEMBER.sub(swap, payload)
