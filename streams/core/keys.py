"""Per-tenant API keys, with no I/O: making them, reading them from headers, checking them.

A key is ``cxp_<id>_<secret>``: the id (public, 12 hex digits) finds the record, the
secret (256 random bits) is checked against its SHA-256. Only the hash is stored, so a
leaked table holds no usable key; a slow password hash buys nothing for 256 random
bits. Hashes are compared in constant time, and an unknown id costs the same
comparison as a wrong secret, so timing tells nothing about which keys exist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from streams.core.contract import check_tenant

SCOPES: Final = ("write", "read", "admin")
"""``write``: the collector and webhooks; ``read``: the /v1 read API; ``admin``: both, for
every tenant."""
ALL_TENANTS: Final = "*"
"""The tenant of an ``admin`` key."""
PREFIX: Final = "cxp_"
_KEY = re.compile(r"cxp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_DUMMY_HASH: Final = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: everything but the secret, which only its holder has."""

    id: str
    tenant: str
    scope: str
    name: str
    created_at: int
    """Epoch seconds."""
    key_hash: str
    """SHA-256 of the secret, hex."""
    revoked_at: int | None = None

    def allows(self, scope: str, tenant: str | None = None) -> bool:
        """Whether this key may act with ``scope`` (on ``tenant``, when one is named)."""
        if self.revoked_at is not None:
            return False
        if self.scope == "admin":
            return True
        return self.scope == scope and (tenant is None or tenant == self.tenant)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(tenant: str, scope: str, name: str, now: int) -> tuple[ApiKey, str]:
    """A fresh key: its record (to store) and its full text (to show once, never store).
    ``tenant`` must be a contract tenant unless the scope is ``admin`` (every tenant)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if scope != "admin":
        check_tenant(tenant)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(key_id, ALL_TENANTS if scope == "admin" else tenant, scope, name, now,
                    hash_secret(secret))
    return record, f"{PREFIX}{key_id}_{secret}"


def split_key(text: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key text, else None."""
    match = _KEY.fullmatch(text.strip())
    return (match[1], match[2]) if match else None


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries, from lower-cased header names: ``Authorization: Bearer
    KEY``, ``Authorization: Basic base64(KEY:)`` (the password is ignored), ``X-Write-Key``
    or ``X-API-Key``."""
    authorization = headers.get("authorization", "").strip()
    kind, _, value = authorization.partition(" ")
    if kind.lower() == "bearer" and value.strip():
        return value.strip()
    if kind.lower() == "basic" and value.strip():
        try:
            user = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user.partition(":")[0] or None
    for name in ("x-write-key", "x-api-key"):
        if headers.get(name, "").strip():
            return headers[name].strip()
    return None


def token_matches(headers: Mapping[str, str], token: str) -> bool:
    """Whether lower-cased ``headers`` carry ``Authorization: Bearer token`` (a shared secret
    such as CX_METRICS_TOKEN), compared in constant time."""
    kind, _, value = headers.get("authorization", "").strip().partition(" ")
    presented = value.strip() if kind.lower() == "bearer" else ""
    return hmac.compare_digest(hash_secret(presented), hash_secret(token))


class KeyRing:
    """The keys in force, by id: what a server checks every request against."""

    def __init__(self, keys: Iterable[ApiKey] = ()) -> None:
        self._by_id = {key.id: key for key in keys}

    def __len__(self) -> int:
        return len(self._by_id)

    def authenticate(self, text: str | None) -> ApiKey | None:
        """The live key this text is, or None (malformed, unknown, wrong secret, revoked)."""
        parts = split_key(text) if text else None
        key_id, secret = parts or ("", "")
        record = self._by_id.get(key_id)
        expected = record.key_hash if record is not None else _DUMMY_HASH
        matches = hmac.compare_digest(hash_secret(secret), expected)
        if record is None or not matches or record.revoked_at is not None:
            return None
        return record
