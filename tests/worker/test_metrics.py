"""Bulk histogram observation gives what observing one by one gives (pure, no services)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

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
