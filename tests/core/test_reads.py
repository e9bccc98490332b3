"""Who reads what, and the read API's parameters: decided before any query runs."""

from __future__ import annotations

import pytest

from streams.core import reads
from streams.core.keys import new_key
from streams.core.reads import Refused, read_tenant

ACME = new_key("acme-shop", "read", "r", 0)[0]
ADMIN = new_key("*", "admin", "a", 0)[0]
WRITE = new_key("acme-shop", "write", "w", 0)[0]


def test_a_read_key_reads_its_own_tenant_only() -> None:
    assert read_tenant(ACME, None) == read_tenant(ACME, "") == read_tenant(ACME, "acme-shop") \
        == "acme-shop"
    answers = []
    for other in ("nordwind", "no-such-tenant", "ACME-SHOP", "*", "acme-shop "):
        with pytest.raises(Refused) as refused:
            read_tenant(ACME, other)
        answers.append((refused.value.status, refused.value.reason, refused.value.message))
        assert other not in refused.value.message or other == "*"
    assert set(answers) == {(403, "forbidden", "this key reads only its own tenant")}


def test_admin_reads_every_tenant_and_write_keys_read_nothing() -> None:
    assert read_tenant(ADMIN, None) is None and read_tenant(ADMIN, "nordwind") == "nordwind"
    assert read_tenant(None, "x") == "x"  # CX_API_AUTH=off
    with pytest.raises(Refused, match="write key"):
        read_tenant(WRITE, None)


def test_parameters_are_known_single_and_short() -> None:
    assert reads.single([("a", "1"), ("b", "")], ("a", "b")) == {"a": "1", "b": ""}
    for pairs, reason in (([("c", "1")], "unknown_parameter"),
                          ([("a", "1"), ("a", "2")], "repeated_parameter"),
                          ([("a", "x" * 257)], "bad_parameter")):
        with pytest.raises(Refused) as refused:
            reads.single(pairs, ("a", "b"))
        assert (refused.value.status, refused.value.reason) == (400, reason)


@pytest.mark.parametrize(("parse", "text"), [
    (reads.window_seconds, "soon"), (reads.window_seconds, "inf"), (reads.window_seconds, "30s"),
    (reads.window_seconds, "1e308d"), (reads.window_seconds, "nan"), (reads.window_seconds, "401d"),
    (lambda t: reads.moment(t, "at"), "9999-12-31T23:59:59Z"),
    (lambda t: reads.moment(t, "at"), "1969-12-31T23:59:59Z"),
    (lambda t: reads.moment(t, "at"), "2026-11-22T10:00:00"),
    (reads.since, "1e12d"), (reads.since, "yesterday"),
    (lambda t: reads.flag(t, "firing"), "yes"), (reads.limit, "0"), (reads.limit, "1001"),
    (reads.limit, "ten"), (lambda t: reads.choice(t, "theme", ("price",)), "x"),
])
def test_bad_values_are_400_naming_the_parameter(parse, text: str) -> None:
    with pytest.raises(Refused) as refused:
        parse(text)
    assert refused.value.status == 400 and refused.value.reason == "bad_parameter"


def test_good_values() -> None:
    assert reads.window_seconds("7d") == 7 * 86400
    assert reads.moment("2026-11-22T10:00:00Z", "at") == 1795341600
    assert reads.since("1h", now=7200) == 3600 and reads.since("1970-01-01T00:00:10Z") == 10
    assert reads.flag("1", "f") and not reads.flag("", "f") and reads.limit("1000") == 1000
