"""Erasure of one customer (``cxpulse forget``), the pure part: who, as a salted hash, and
how a dead letter names them.

The audit keeps the customer only as an HMAC-SHA256 with a per-deployment salt: with
the salt, an operator can answer "was this customer erased?" by hashing the id again;
without it, the hash cannot be reversed by trying likely ids.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

ERASURE_FACT_PREFIX: Final = "erasure:"
"""A zero fact ``erasure:<erasure id>`` at each minute an erasure touched: its version lifts
the minute's version above every version written before the customer's facts left
(``queries.erasure``)."""


def customer_hash(salt: bytes, tenant: str, customer: str) -> str:
    """HMAC-SHA256 (hex) of tenant and customer id: the same id of two tenants differs."""
    return hmac.new(salt, f"{tenant}\x00{customer}".encode(), hashlib.sha256).hexdigest()


def salt_id(salt: bytes) -> str:
    """A short name for a salt (a SHA-256 prefix), to tell which salt made a hash."""
    return hashlib.sha256(b"cxpulse-erasure-salt\x00" + salt).hexdigest()[:12]


def deadletter_pattern(customer: str) -> str:
    """An RE2 regular expression for a JSON object member ``"customer_id": "<id>"`` (any
    whitespace around the colon), the id as a whole string value, written without escapes.

    A dead letter is the bytes as received, possibly not JSON at all, so it is matched as
    text; an id written with JSON escapes (``\\u0041``) or split across fields is not found.
    """
    escaped = customer.replace("\\", "\\\\").replace('"', '\\"')
    return r'"customer_id"\s*:\s*"' + re.escape(escaped) + '"'
