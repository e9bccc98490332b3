"""Worker metric helpers: bulk histogram observation, lag of given-away partitions (no services)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from streams.worker import metrics
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
