"""Rate limits with a hand-driven clock."""

from __future__ import annotations

import pytest

from streams.core.limits import FailureLimiter, TokenBuckets, backoff, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_tenant_spends_its_burst_then_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=100, burst=1000, clock=clock)
    assert buckets.take("acme", 1000) == 0.0
    assert buckets.take("acme", 50) == pytest.approx(0.5)
    assert buckets.take("globex", 1000) == 0.0  # tenants are apart
    clock.now += 0.5
    assert buckets.take("acme", 50) == 0.0
    clock.now += 100
    assert buckets.take("acme", 1000) == 0.0  # refilled up to the burst, no more
    assert buckets.take("acme", 1) > 0


def test_a_request_over_the_burst_costs_the_burst() -> None:
    buckets = TokenBuckets(rate=10, burst=100, clock=Clock())
    assert buckets.take("acme", 5000) == 0.0
    assert buckets.take("acme", 1) == pytest.approx(0.1)


def test_failures_block_an_address_for_a_while() -> None:
    clock = Clock()
    limiter = FailureLimiter(limit=3, window=60, block=30, clock=clock)
    assert limiter.fail("10.0.0.1") == 0.0
    clock.now += 61  # old failures age out
    assert limiter.fail("10.0.0.1") == 0.0
    assert limiter.fail("10.0.0.1") == 0.0
    assert limiter.blocked("10.0.0.1") == 0.0
    assert limiter.fail("10.0.0.1") == 30
    assert limiter.blocked("10.0.0.1") == 30 and limiter.blocked("10.0.0.2") == 0.0
    clock.now += 30
    assert limiter.blocked("10.0.0.1") == 0.0


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(s) for s in (0.001, 1.0, 1.2, 59.5)] == ["1", "1", "2", "60"]
    assert [backoff(n) for n in (0, 1, 20)] == [0.2, 0.4, 30.0]
