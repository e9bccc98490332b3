"""The customer's salted hash and how a dead letter is found to name them (pure)."""

from __future__ import annotations

import re

import pytest

from streams.core.erasure import customer_hash, deadletter_pattern, salt_id


def test_the_hash_is_keyed_by_salt_and_tenant_and_never_the_id() -> None:
    one = customer_hash(b"salt", "acme-shop", "cust-42")
    assert one == customer_hash(b"salt", "acme-shop", "cust-42") and len(one) == 64
    assert one != customer_hash(b"other", "acme-shop", "cust-42")
    assert one != customer_hash(b"salt", "nordwind", "cust-42")
    assert one != customer_hash(b"salt", "acme-shop", "cust-4")
    assert "cust" not in one
    assert salt_id(b"salt") != salt_id(b"other") and len(salt_id(b"salt")) == 12


@pytest.mark.parametrize("payload, names", [
    ('{"customer_id":"c-1.x","score":11}', True),
    ('{"score": 11, "customer_id" :\n\t "c-1.x"}', True),
    ('{"customer_id":"c-1.x', False),            # cut before the value ends
    ('{"customer_id":"c-1.xy"}', False),         # another customer
    ('{"customer_id":"ac-1.x"}', False),
    ('{"customer_id":"c-1Ax"}', False),          # the dot is not a wildcard
    ('{"customer_id":"\\u0063-1.x"}', False),    # escaped: not matched (documented)
    ('{"comment":"c-1.x"}', False),              # another field
])
def test_a_dead_letter_names_the_customer_only_as_the_whole_value(payload: str,
                                                                    names: bool) -> None:
    assert bool(re.search(deadletter_pattern("c-1.x"), payload)) is names


def test_quotes_and_backslashes_in_an_id_are_matched_as_json_writes_them() -> None:
    assert re.search(deadletter_pattern('a"b\\c'), '{"customer_id": "a\\"b\\\\c"}')
