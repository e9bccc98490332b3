"""The write loop's offset bookkeeping, with no I/O: what is written and not yet settled,
the offsets that become committable once it is, and when to settle.

Modelled on Quix Streams' ``Checkpoint``: batches are written as they come, and one
settle (the minute scores) followed by one commit covers all written since the last.
Kept apart from the consumer and the warehouse so the commit rules are tested alone
(``tests/worker/test_checkpoint.py``); ``worker.ingest`` does the I/O around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar

Partition = tuple[str, int]
"""(topic, partition); aiokafka's ``TopicPartition`` is one, and compares equal to it."""


class Written(Protocol):
    """A batch as the checkpoint needs it (``worker.ingest.Fetched`` is one)."""

    @property
    def offsets(self) -> Mapping[Any, int]:
        """Next offset per partition: committable once the batch is settled."""
        ...

    @property
    def complete_at(self) -> float | None:
        """Wall time the batch reached the partitions' ends, if it did."""
        ...


B = TypeVar("B", bound=Written)


def merged(offsets: Iterable[Mapping[Any, int]]) -> dict[Any, int]:
    """One offset per partition, the later mapping winning: pass them in fetch order, so
    each partition's offset is where the last batch read from it ends."""
    result: dict[Any, int] = {}
    for each in offsets:
        result |= each
    return result


class Checkpoint(Generic[B]):
    """Batches written since the last settle, the minutes they touched, and when to settle.

    Under load, consecutive batches settle together at most ``interval`` seconds after
    the first of them was written, so a busy minute is recomputed once per interval
    instead of once per batch; when nothing waits to be written, they settle at once.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.written: list[B] = []
        """In fetch order."""
        self.touched: set[Any] = set()
        """What settling must bring up to date (``Writer.write``'s answers, together)."""
        self.first = 0.0
        """Monotonic time the first batch of this checkpoint was written."""

    def __len__(self) -> int:
        return len(self.written)

    def add(self, batch: B, touched: set[Any], now: float) -> None:
        """Note a batch written at monotonic time ``now``, and what it touched."""
        if not self.written:
            self.first = now
        self.written.append(batch)
        self.touched |= touched

    def due(self, now: float, waiting: bool) -> bool:
        """Settle now? Yes once something is written and either no batch is ``waiting`` to
        be written or ``interval`` has passed since the first write."""
        return bool(self.written) and (not waiting or now - self.first >= self.interval)

    def offsets(self) -> dict[Any, int]:
        """What to commit once settled: per partition, the offset of the last batch fetched."""
        return merged(batch.offsets for batch in self.written)

    def complete_at(self) -> float | None:
        """The latest wall time up to which this checkpoint's partitions are all read."""
        return max((batch.complete_at for batch in self.written
                    if batch.complete_at is not None), default=None)

    def clear(self) -> list[B]:
        """Start the next checkpoint; returns the batches of this one, in fetch order."""
        written, self.written, self.touched = self.written, [], set()
        return written
