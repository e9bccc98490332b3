"""Process-wide tuning shared by the long-running servers (worker, collector)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import gc
from typing import Final


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path.

    A batch (or a burst of requests) allocates tens of thousands of short-lived, acyclic
    objects (rows, events) that reference counting frees; with the default thresholds the
    collector still runs hundreds of times per batch and scans everything alive, which
    measured about a third of the worker's validation time. Objects from start-up are
    frozen out of its sight, and it runs after 50,000 allocations instead of 700.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


ARENAS: Final = 2
"""glibc malloc arenas: one per thread by default (up to 8 per core), each keeping its own
freed memory; the worker's threads (encoder, warehouse calls) need no more than two."""
RELEASE_EVERY_S: Final = 20.0
"""How often a long-running server collects cyclic garbage and hands freed heap pages back
to the system: often enough that an outage's or a catch-up's garbage does not pile up."""
_M_ARENA_MAX: Final = -8


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_arenas(count: int = ARENAS) -> bool:
    """Fewer malloc arenas: whether it took effect (False off glibc)."""
    libc = _libc()
    return bool(libc and libc.mallopt(_M_ARENA_MAX, count))


def release_memory() -> bool:
    """Collect cyclic garbage, then return the heap's free pages to the system; whether any
    pages went (False off glibc).

    The collector is tuned for the hot path (``tune_gc``), so its full pass is rare: many
    minutes apart under steady load. Meanwhile garbage in reference cycles piles up in the
    oldest generation: clickhouse-driver's column objects, tens of thousands a minute, and
    during a broker outage aiokafka's failed connections with their sockets and tracebacks.
    Measured in a soak: pymalloc's allocated blocks grew 56 -> 86 MiB in three minutes
    before a full pass. A pass every ``RELEASE_EVERY_S`` keeps that to 20 seconds' worth
    (a pass took 25-260 ms with a minute's worth).

    Then ``malloc_trim``: a catch-up after an outage fills the heap with batches of
    messages (each a malloc'd ``bytes``); freed, they leave pages that glibc keeps, pinned
    by a few live objects between them; the trim gives them back.
    """
    gc.collect()
    libc = _libc()
    return bool(libc and libc.malloc_trim(0))


async def release_memory_every(seconds: float = RELEASE_EVERY_S) -> None:
    """``release_memory`` every ``seconds``, for as long as the server runs (a task of it)."""
    while True:
        await asyncio.sleep(seconds)
        release_memory()
