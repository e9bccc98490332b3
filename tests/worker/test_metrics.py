"""Worker metric helpers: bulk histogram observation, lag of given-away partitions, a batch
whose partition a rebalance moved (no services)."""

from __future__ import annotations

import asyncio
from collections import Counter as Tally

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, Histogram

from streams.core.rows import Batch
from streams.worker import metrics
from streams.worker.ingest import Fetched
from streams.worker.metrics import observe_many


def samples(histogram: Histogram) -> dict[tuple[str, str], float]:
    return {(sample.name, sample.labels.get("le", "")): sample.value
            for metric in histogram.collect() for sample in metric.samples
            if not sample.name.endswith("_created")}


def test_observe_many_equals_observing_one_by_one() -> None:
    values = [0.0, 0.05, 0.1, 0.1000001, 0.3, 1.0, 2.5, 7.0, 1e9, 0.1, 0.05]
    buckets = (0.05, 0.1, 0.5, 1, 2.5, 10)
    one = Histogram("one", "h", buckets=buckets, registry=CollectorRegistry())
    bulk = Histogram("bulk", "h", buckets=buckets, registry=CollectorRegistry())
    for value in values:
        one.observe(value)
    observe_many(bulk, iter(values))
    observe_many(bulk, [])
    expected = {(name.replace("one", "bulk"), le): v for (name, le), v in samples(one).items()}
    assert samples(bulk) == expected
    assert expected[("bulk_count", "")] == len(values)


def test_lag_of_partitions_given_away_is_dropped() -> None:
    metrics.CONSUMER_LAG.clear()
    for topic, partition, lag in (("cx.feedback", "0", 5), ("cx.feedback", "1", 7),
                                  ("cx.interactions", "0", 9)):
        metrics.CONSUMER_LAG.labels(topic, partition).set(lag)
    metrics.keep_lag({("cx.feedback", 1), ("cx.interactions", 0), ("cx.followups", 3)})
    kept = {(s.labels["topic"], s.labels["partition"]): s.value
            for family in metrics.CONSUMER_LAG.collect() for s in family.samples}
    metrics.CONSUMER_LAG.clear()
    assert kept == {("cx.feedback", "1"): 7, ("cx.interactions", "0"): 9}


def test_a_batch_of_partitions_moved_by_a_rebalance_is_recorded() -> None:
    """A rebalance during the write took a partition of the batch away: its lag is its new
    owner's to report, and the worker does not crash on it (found by ``bench soak``).
    The consumer is never started: assignment and high-water marks are local state."""
    kept, moved = TopicPartition("cx.feedback", 0), TopicPartition("cx.feedback", 1)

    async def record() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
        consumer.assign([kept])
        before = metrics.EVENTS.labels("cx.feedback", "accepted")._value.get()
        try:
            metrics.record_batch(Fetched(Batch(), {kept: 5, moved: 7},
                                         Tally({"cx.feedback": 2})), consumer)
        finally:
            await consumer.stop()
        assert metrics.EVENTS.labels("cx.feedback", "accepted")._value.get() == before + 2

    asyncio.run(record())
