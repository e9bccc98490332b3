"""The process tuning of the long-running servers, measured in this process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

from streams.process import limit_arenas, release_memory, release_memory_every


def resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_freed_pages_pinned_by_a_few_live_messages_go_back_to_the_system() -> None:
    # 150k malloc'd messages (bytes above pymalloc's 512-byte limit), one in 64 kept alive:
    # the freed rest stays resident until the heap is trimmed.
    messages = [bytes([index % 251]) * 1000 for index in range(150_000)]
    kept = messages[::64]
    del messages
    gc.collect()
    before = resident_mib()
    assert release_memory()
    after = resident_mib()
    assert len(kept) == 2344
    assert before - after > 50, (before, after)


def test_arenas_can_be_limited() -> None:
    assert limit_arenas(2)


class _Node:
    """An object in a reference cycle, as clickhouse-driver's columns are."""

    def __init__(self) -> None:
        self.me = self


@contextlib.contextmanager
def cyclic_garbage() -> Iterator[weakref.ref[_Node]]:
    """One unreachable object in a cycle, with the collector off (as rare as a full pass
    under tune_gc's thresholds); yields a weak reference to it."""
    gc.disable()
    try:
        node = _Node()
        gone = weakref.ref(node)
        del node
        assert gone() is not None  # a cycle: reference counting alone does not free it
        yield gone
    finally:
        gc.enable()


def test_cyclic_garbage_is_collected_though_the_collector_is_tuned_down() -> None:
    with cyclic_garbage() as gone:
        release_memory()
        assert gone() is None


def test_a_server_releases_memory_on_its_own_clock() -> None:
    """``release_memory_every``, the collector's task (a worker uses a Faust timer)."""

    async def run_briefly() -> None:
        task = asyncio.create_task(release_memory_every(0.01))
        await asyncio.sleep(0.2)
        task.cancel()

    with cyclic_garbage() as gone:
        asyncio.run(run_briefly())
        assert gone() is None
