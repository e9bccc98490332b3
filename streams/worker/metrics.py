"""Prometheus metrics of the pipeline itself; names are an interface for rules and dashboards."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Iterable
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY, Counter, Gauge, Histogram

from streams.core.rows import DEADLETTER_TABLE, Batch, as_dict
from streams.dependencies import dependency_metrics

EVENTS = Counter("cx_events", "Messages consumed, by source topic and outcome (accepted|rejected)",
                 ["topic", "outcome"])
DEADLETTERS = Counter("cx_deadletters", "Messages dead-lettered, by machine-readable reason",
                      ["reason"])
SINK_ROWS = Counter("cx_sink_rows", "Rows written to ClickHouse, by table", ["table"])
SINK_WRITE_SECONDS = Histogram(
    "cx_sink_write_seconds", "Wall time of one batch write to ClickHouse, retries included",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
NOTIFICATIONS = Counter("cx_notifications",
                        "case_opened messages sent to cx.notifications (once per feedback)")
SINK_ERRORS = Counter("cx_sink_errors", "Failed ClickHouse or dead-letter writes (each retried)")
EVENT_LAG_SECONDS = Histogram(
    "cx_event_lag_seconds", "Ingest time minus event time of accepted events",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400))
SCORE_MINUTES = Counter(
    "cx_score_minutes_written",
    "Scope-minutes of statistics rewritten in ClickHouse as written batches settle")
ASSIGNED_PARTITIONS = Gauge("cx_assigned_partitions",
                            "Source topic partitions this worker consumes after the last rebalance")
SINK_BATCH_ROWS = Histogram(
    "cx_sink_batch_rows", "Messages per consumed batch (one ClickHouse insert per table)",
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000))
SCORE_LATENCY_SECONDS = Histogram(
    "cx_score_latency_seconds",
    "Kafka message timestamp to its raw row and scores written in ClickHouse",
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 120, 180, 300))
CONSUMER_LAG = Gauge("cx_consumer_lag", "Messages behind the end of a source partition",
                     ["topic", "partition"])
API_KEYS = Gauge("cx_api_keys", "Keys in the read API's ring (revoked ones included)")
API_KEY_REFRESH_ERRORS = Counter("cx_api_key_refresh_errors", "Failed reads of cx.api_keys by "
                                 "the read API (the last good keys stay in force)")
SNAPSHOT_LAST_SUCCESS = Gauge(
    "cx_snapshot_last_success_timestamp_seconds",
    "Unix time of the leader's last score snapshot read from ClickHouse (0: none yet)")
ALERT_PASSES = Counter("cx_alert_passes", "Alert evaluation passes of the leader, by outcome "
                      "(done | waiting: ingest still catching up | failed)", ["outcome"])
ALERT_PASS_SECONDS = Histogram(
    "cx_alert_pass_seconds", "Wall time of one alert evaluation pass (read, judge, record)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
ALERT_SCOPES = Gauge("cx_alert_scopes", "Scopes (rollups included) the last alert pass judged")
ALERT_CHANGES = Counter("cx_alert_changes", "Alert state changes recorded, by state",
                        ["state"])
COMMENTS_ENRICHED = Counter("cx_comments_enriched",
                            "Feedback comments classified and stored, by language", ["language"])
COMMENTS_FAILED = Counter("cx_comments_failed",
                          "Feedback messages the comment model failed on (logged and skipped)")
COMMENTS_ENCODED = Counter("cx_comments_encoded",
                           "Comments that went through the encoder (the rest hit the cache)")
ENRICH_BATCH_SECONDS = Histogram(
    "cx_enrich_batch_seconds", "Wall time to validate, mask and classify one batch of feedback",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60))
ENRICH_LATENCY_SECONDS = Histogram(
    "cx_enrich_latency_seconds",
    "Kafka message timestamp to its comment insight and comment minutes written in ClickHouse",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, 900))
ENRICH_LAG_SECONDS = Gauge(
    "cx_enrichment_lag_seconds",
    "Age of the oldest feedback this worker fetched for enrichment and has not yet stored the "
    "insight of (0: caught up)")
ENRICH_PARTITIONS = Gauge("cx_enrich_assigned_partitions",
                          "cx.feedback partitions this worker enriches after the last rebalance")
record_dependency = dependency_metrics(REGISTRY)
"""One probe of a dependency (``streams.dependencies.Watch``)."""


def keep_lag(assigned: set[tuple[str, int]]) -> None:
    """Drop the lag of partitions this worker gave away: their new owner reports it."""
    for family in CONSUMER_LAG.collect():
        for sample in family.samples:
            topic, partition = sample.labels["topic"], sample.labels["partition"]
            if (topic, int(partition)) not in assigned:
                CONSUMER_LAG.remove(topic, partition)


def observe_many(histogram: Histogram, values: Iterable[float]) -> None:
    """``observe`` for a whole batch: the same buckets and sum, at a fraction of the cost.

    Observing one by one costs about a microsecond per value, which at tens of
    thousands of events per second is a noticeable share of a core.
    """
    bounds = histogram._upper_bounds
    total = 0.0
    counts: Tally[int] = Tally()
    for value in values:
        counts[bisect_left(bounds, value)] += 1
        total += value
    if counts:
        histogram._sum.inc(total)
        for index, count in counts.items():
            histogram._buckets[index].inc(count)
PII_MASKED = Counter("cx_pii_masked", "Personal data masked before storage (comments, dead "
                     "letters), by kind (email|phone|card|iban)", ["kind"])


class Written(Protocol):
    """What ``record_batch`` reads of a written batch: ``streams.worker.ingest.Fetched``,
    named by shape because the ingest imports this module."""

    batch: Batch
    offsets: dict[TopicPartition, int]
    topics: Tally[str]
    sent_ms: list[int]
    validated_at: float


def record_batch(fetched: Written, consumer: AIOKafkaConsumer) -> None:
    """Pipeline metrics for one written batch (counts per topic, lag, latency): the
    ingest's ``written`` callback, called after each write."""
    batch = fetched.batch
    dead = [as_dict(DEADLETTER_TABLE, row) for row in batch.rows.get(DEADLETTER_TABLE, ())]
    rejected = Tally(row["topic"] for row in dead)
    for topic, count in fetched.topics.items():
        EVENTS.labels(topic, "accepted").inc(count - rejected[topic])
        EVENTS.labels(topic, "rejected").inc(rejected[topic])
    for reason, count in Tally(row["reason"] for row in dead).items():
        DEADLETTERS.labels(reason).inc(count)
    for kind, count in batch.pii.items():
        PII_MASKED.labels(kind).inc(count)
    SINK_BATCH_ROWS.observe(sum(fetched.topics.values()))
    now = fetched.validated_at
    observe_many(EVENT_LAG_SECONDS,
                 (max(0.0, now - occurred_ms / 1000) for occurred_ms in batch.occurred_ms))
    written_ms = time.time() * 1000
    observe_many(SCORE_LATENCY_SECONDS,
                 (max(0.0, (written_ms - sent) / 1000) for sent in fetched.sent_ms))
    owned = consumer.assignment()
    for tp, next_offset in fetched.offsets.items():
        if tp not in owned:  # a rebalance moved it during the write: its new owner reports
            continue
        highwater = consumer.highwater(tp)
        if highwater is not None:
            CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - next_offset))
