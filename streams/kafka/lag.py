"""How far the worker's consumer groups are behind: committed offsets against the ends.

A batch's offsets are committed only once its rows are written and its minutes settled
(``worker.ingest``), so the first uncommitted message of a partition is the oldest one
not yet settled: its broker timestamp is how far back the settled scores stand. Read
with kafka-python, from outside the groups (nothing joins them, nothing rebalances).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from streams.core.contract import TOPIC_OF_TYPE
from streams.kafka import SOURCE_TOPICS
from streams.kafka.security import PLAINTEXT, KafkaSecurity

INGEST, ENRICH = "ingest", "enrich"
"""The worker's consumer groups, after ``CX_APP_ID-``: its services join them by these names
(``worker.ingest``, ``worker.enrich``), and lag reads the same ones."""


def consumer_groups(app_id: str, *, enrich: bool = True) -> dict[str, tuple[str, ...]]:
    """The worker's consumer groups (``CX_APP_ID-ingest``, and ``CX_APP_ID-enrich`` unless
    ``CX_COMMENT_ENRICH`` is off, as the worker's services name them) and the
    topics each consumes."""
    groups = {f"{app_id}-{INGEST}": SOURCE_TOPICS}
    if enrich:
        groups[f"{app_id}-{ENRICH}"] = (TOPIC_OF_TYPE["feedback"],)
    return groups


@dataclass
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    """The group's next offset to read; None: the group never committed here."""
    end: int
    lag: int
    oldest_unsettled_ms: int | None = None
    """Broker timestamp of the first uncommitted message (epoch ms), when it lags."""


@dataclass
class GroupLag:
    group: str
    topics: tuple[str, ...]
    partitions: list[PartitionLag] = field(default_factory=list)

    @property
    def lag(self) -> int:
        return sum(part.lag for part in self.partitions)

    @property
    def oldest_unsettled_ms(self) -> int | None:
        """The oldest message any partition has not settled; None when none lags."""
        return min((part.oldest_unsettled_ms for part in self.partitions
                    if part.oldest_unsettled_ms is not None), default=None)

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "topics": list(self.topics), "lag": self.lag,
                "oldest_unsettled_ms": self.oldest_unsettled_ms,
                "partitions": [asdict(part) for part in self.partitions]}


def group_lags(bootstrap: str, groups: Mapping[str, Sequence[str]],
               security: KafkaSecurity = PLAINTEXT, timeout: float = 5.0) -> list[GroupLag]:
    """Per group, each partition of its topics: committed offset, end and lag, and for the
    lagging ones the broker time of the first message not yet committed."""
    from kafka import KafkaConsumer, TopicPartition

    common = {"bootstrap_servers": bootstrap, "client_id": "cxpulse-status",
              "request_timeout_ms": int(timeout * 1000), "enable_auto_commit": False,
              **security.kafka_python()}
    reader = KafkaConsumer(max_partition_fetch_bytes=64 << 10, **common)
    try:
        found = []
        for group, topics in groups.items():
            partitions = [TopicPartition(topic, number) for topic in topics
                          for number in sorted(reader.partitions_for_topic(topic) or ())]
            member = KafkaConsumer(group_id=group, **common)
            try:
                committed = {tp: member.committed(tp) for tp in partitions}
            finally:
                member.close()
            starts = reader.beginning_offsets(partitions)
            listed = reader.end_offsets(partitions)
            position = {tp: starts[tp] if committed[tp] is None else committed[tp]
                        for tp in partitions}
            ends, first = _fetch_from(reader, position, timeout)
            lags = GroupLag(group, tuple(topics))
            for tp in partitions:
                end = max(listed[tp], ends.get(tp) or 0)
                lags.partitions.append(PartitionLag(
                    tp.topic, tp.partition, committed[tp], end, max(0, end - position[tp]),
                    first.get(tp)))
            found.append(lags)
        return found
    finally:
        reader.close()


def _fetch_from(reader: Any, position: Mapping[Any, int], timeout: float
                ) -> tuple[dict[Any, int | None], dict[Any, int]]:
    """Fetch once from each partition's ``position``: the high-water marks the fetches
    carry (the end; some brokers, Tansu among them, answer a ListOffsets for the latest
    offset short of it) and the timestamp of the first message found, if any."""
    reader.assign(list(position))
    for tp, offset in position.items():
        reader.seek(tp, offset)
    first: dict[Any, int] = {}
    deadline = time.monotonic() + timeout

    def waiting() -> bool:
        return any((high := reader.highwater(tp)) is None or (high > offset and tp not in first)
                   for tp, offset in position.items())

    while waiting() and time.monotonic() < deadline:
        for tp, records in reader.poll(timeout_ms=200, max_records=500).items():
            if records and tp not in first:
                first[tp] = records[0].timestamp
                reader.pause(tp)
    ends = {tp: reader.highwater(tp) for tp in position}
    reader.unsubscribe()
    return ends, first
