"""API keys: made random, stored as hashes, read from every header form, checked strictly."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from streams.core.keys import KeyRing, hash_secret, new_key, presented_key, split_key, token_matches


def test_a_new_key_is_random_and_only_its_hash_is_kept() -> None:
    record, text = new_key("acme-shop", "write", "web widget", 1_700_000_000)
    other, other_text = new_key("acme-shop", "write", "web widget", 1_700_000_000)
    assert text != other_text and record.id != other.id
    key_id, secret = split_key(text) or ("", "")
    assert key_id == record.id and len(secret) >= 43  # 256 bits, url-safe base64
    assert record.key_hash == hash_secret(secret) and secret not in repr(record)
    assert record.tenant == "acme-shop" and record.scope == "write"


def test_an_admin_key_belongs_to_every_tenant() -> None:
    record, _ = new_key("acme-shop", "admin", "ops", 0)
    assert record.tenant == "*"
    assert record.allows("write", "globex") and record.allows("read", "acme-shop")


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="scope must be one of write, read, admin"):
        new_key("acme-shop", "owner", "", 0)


@pytest.mark.parametrize("headers", [
    {"authorization": "Bearer {key}"},
    {"authorization": "bearer   {key} "},
    {"authorization": "Basic {basic}"},
    {"x-write-key": "{key}"},
    {"x-api-key": "{key}"},
])
def test_every_header_form_presents_the_key(headers: dict[str, str]) -> None:
    _, text = new_key("acme-shop", "write", "", 0)
    basic = base64.b64encode(f"{text}:".encode()).decode()
    filled = {name: value.format(key=text, basic=basic) for name, value in headers.items()}
    assert presented_key(filled) == text


@pytest.mark.parametrize("headers", [
    {}, {"authorization": "Bearer "}, {"authorization": "Basic !!!"},
    {"authorization": "Basic " + base64.b64encode(b"\xff\xfe").decode()},
    {"authorization": "Digest abc"}, {"x-write-key": "  "},
])
def test_no_key_is_none(headers: dict[str, str]) -> None:
    assert presented_key(headers) is None


def test_the_ring_accepts_only_a_live_exact_key() -> None:
    write, write_text = new_key("acme-shop", "write", "", 0)
    revoked, revoked_text = new_key("acme-shop", "write", "", 0)
    revoked = replace(revoked, revoked_at=5)
    ring = KeyRing([write, revoked])
    assert ring.authenticate(write_text) == write
    assert ring.authenticate(revoked_text) is None
    key_id, secret = split_key(write_text) or ("", "")
    wrong = f"cxp_{key_id}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    assert ring.authenticate(wrong) is None
    _, unknown_text = new_key("acme-shop", "write", "", 0)
    assert ring.authenticate(unknown_text) is None
    for junk in (None, "", "cxp_", write_text + "x", "Bearer " + write_text):
        assert ring.authenticate(junk) is None


def test_scopes_and_tenants_are_enforced() -> None:
    write, _ = new_key("acme-shop", "write", "", 0)
    read, _ = new_key("acme-shop", "read", "", 0)
    assert write.allows("write", "acme-shop") and not write.allows("write", "globex")
    assert not write.allows("read", "acme-shop")
    assert read.allows("read", "acme-shop") and not read.allows("write", "acme-shop")


@pytest.mark.parametrize("tenant", ["", "Acme", "-acme", "acme shop", "a" * 65, "acme\n"])
def test_a_key_names_a_contract_tenant(tenant: str) -> None:
    with pytest.raises(ValueError, match="is not valid: it must be 1-64 chars"):
        new_key(tenant, "write", "", 0)
    assert new_key("a" * 64, "read", "", 0)[0].tenant == "a" * 64


def test_a_shared_token_matches_only_itself_as_a_bearer() -> None:
    assert token_matches({"authorization": "Bearer s3cret"}, "s3cret")
    assert token_matches({"authorization": "bearer  s3cret "}, "s3cret")
    for headers in ({}, {"authorization": "Bearer s3cre"}, {"authorization": "Basic s3cret"},
                    {"x-api-key": "s3cret"}, {"authorization": "Bearer"}):
        assert not token_matches(headers, "s3cret"), headers
