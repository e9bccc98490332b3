"""The write loop's offset bookkeeping, pure: what a settle covers and what it commits."""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.worker.checkpoint import Checkpoint, merged
from tests.test_layout import IO_MODULES, imported_names, module_names


@dataclass
class Written:
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    complete_at: float | None = None


A, B = ("cx.feedback", 0), ("cx.feedback", 1)


def test_offsets_merge_in_fetch_order_the_later_batch_winning() -> None:
    assert merged([{A: 10, B: 5}, {A: 20}, {A: 15}]) == {A: 15, B: 5}
    assert merged([]) == {}
    checkpoint: Checkpoint[Written] = Checkpoint(1.0)
    for offsets in ({A: 10, B: 5}, {B: 7}, {A: 12}):
        checkpoint.add(Written(offsets), set(), 0.0)
    assert checkpoint.offsets() == {A: 12, B: 7}


def test_nothing_written_is_never_due() -> None:
    checkpoint: Checkpoint[Written] = Checkpoint(0.5)
    assert not checkpoint.due(100.0, waiting=False)
    assert not checkpoint.due(100.0, waiting=True)
    assert checkpoint.complete_at() is None
    assert checkpoint.offsets() == {}


def test_due_at_once_when_idle_and_after_the_interval_from_the_first_write_when_busy() -> None:
    checkpoint: Checkpoint[Written] = Checkpoint(0.5)
    checkpoint.add(Written({A: 1}), {"m1"}, 10.0)
    assert checkpoint.due(10.0, waiting=False)  # nothing more to write: settle now
    assert not checkpoint.due(10.4, waiting=True)  # more coming: gather it first
    checkpoint.add(Written({A: 2}), {"m2"}, 10.4)
    assert checkpoint.first == 10.0  # the interval runs from the first write, not the last
    assert not checkpoint.due(10.49, waiting=True)
    assert checkpoint.due(10.5, waiting=True)


def test_touched_gathers_and_clear_starts_the_next_checkpoint() -> None:
    checkpoint: Checkpoint[Written] = Checkpoint(0.5)
    first, second = Written({A: 1}), Written({B: 3})
    checkpoint.add(first, {"m1", "m2"}, 1.0)
    checkpoint.add(second, {"m2", "m3"}, 1.2)
    assert checkpoint.touched == {"m1", "m2", "m3"}
    assert len(checkpoint) == 2
    assert checkpoint.clear() == [first, second]
    assert (len(checkpoint), checkpoint.touched, checkpoint.offsets()) == (0, set(), {})
    assert not checkpoint.due(9.0, waiting=False)
    checkpoint.add(Written({A: 4}), set(), 5.0)
    assert checkpoint.first == 5.0


def test_complete_at_is_the_latest_batch_that_reached_the_end() -> None:
    checkpoint: Checkpoint[Written] = Checkpoint(0.5)
    checkpoint.add(Written({A: 1}, complete_at=100.0), set(), 0.0)
    checkpoint.add(Written({A: 2}, complete_at=None), set(), 0.0)
    checkpoint.add(Written({A: 3}, complete_at=101.5), set(), 0.0)
    checkpoint.add(Written({A: 4}, complete_at=None), set(), 0.0)
    assert checkpoint.complete_at() == 101.5


def test_the_bookkeeping_does_no_io() -> None:
    modules = module_names()
    imported = imported_names("streams.worker.checkpoint", modules)
    assert not {name.split(".")[0] for name in imported} & (IO_MODULES | {"mode", "asyncio"})
    assert not {name for name in imported if name.startswith("streams.")}
