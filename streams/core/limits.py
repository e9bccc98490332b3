"""The collector's rate limits, with no I/O: clocks are passed in, so tests choose time.

- ``TokenBuckets``: events per second per tenant, with a burst (CX_COLLECT_RATE,
  CX_COLLECT_BURST). Over it the client is told how long to wait (429 Retry-After).
- ``FailureLimiter``: repeated authentication failures from one client address block
  that address for a while, so keys cannot be guessed at line rate (they are 256-bit
  anyway; this keeps the logs and the CPU quiet too).

Both hold bounded state: a map that outgrows its cap forgets its oldest entries.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

Clock = Callable[[], float]
"""Monotonic seconds."""
MAX_ENTRIES: Final = 100_000


class TokenBuckets:
    """One token bucket per tenant: ``rate`` tokens a second, at most ``burst`` saved."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        """tenant -> (tokens, when they were counted)."""

    def take(self, tenant: str, count: int) -> float:
        """Take ``count`` tokens: 0.0 when granted, else the seconds until they would be.

        A request larger than the burst costs the whole burst (it could never be
        granted otherwise; the per-request event limit bounds it anyway).
        """
        now = self._clock()
        tokens, then = self._buckets.pop(tenant, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        need = float(min(count, self.burst))
        if tokens >= need:
            tokens -= need
            wait = 0.0
        else:
            wait = (need - tokens) / self.rate
        self._buckets[tenant] = (tokens, now)
        if len(self._buckets) > MAX_ENTRIES:
            self._buckets.popitem(last=False)
        return wait


class FailureLimiter:
    """``limit`` authentication failures within ``window`` seconds block an address for
    ``block`` seconds."""

    def __init__(self, limit: int = 10, window: float = 60.0, block: float = 60.0,
                 clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.block = block
        self._clock = clock
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._blocked: OrderedDict[str, float] = OrderedDict()
        """address -> when its block ends."""

    def blocked(self, address: str) -> float:
        """Seconds this address must still wait (0.0: not blocked)."""
        until = self._blocked.get(address)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._blocked[address]
            return 0.0
        return left

    def fail(self, address: str) -> float:
        """Count a failure; the block's length if this one starts a block, else 0.0."""
        now = self._clock()
        recent = [at for at in self._failures.pop(address, []) if now - at < self.window]
        recent.append(now)
        if len(recent) >= self.limit:
            self._blocked[address] = now + self.block
            self._blocked.move_to_end(address)
            if len(self._blocked) > MAX_ENTRIES:
                self._blocked.popitem(last=False)
            return self.block
        self._failures[address] = recent
        if len(self._failures) > MAX_ENTRIES:
            self._failures.popitem(last=False)
        return 0.0


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


def backoff(attempt: int, *, first: float = 0.2, cap: float = 30.0) -> float:
    """Exponential backoff between retries of a write: 0.2 s, 0.4 s, ... capped at 30 s."""
    return min(cap, first * 2 ** min(attempt, 16))
