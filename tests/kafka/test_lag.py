"""Consumer lag read from outside the groups, against a real (Tansu) broker: committed
offsets, the partitions' ends and the broker time of the first message not committed."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from streams.kafka.admin import create_topics
from streams.kafka.lag import consumer_groups, group_lags
from streams.kafka.security import PLAINTEXT

pytestmark = pytest.mark.integration


def test_lag_counts_what_each_group_has_not_committed(kafka: str) -> None:
    create_topics(kafka, 2, PLAINTEXT)
    groups = consumer_groups("lagtest")
    ingest, enrich = groups
    assert groups[ingest][0] == "cx.interactions" and groups[enrich] == ("cx.feedback",)
    before = int(time.time() * 1000)
    producer = KafkaProducer(bootstrap_servers=kafka, linger_ms=50)  # batches of many records
    for i in range(6):
        producer.send("cx.feedback", b"%d" % i, partition=0)
    producer.send("cx.interactions", b"x", partition=1)
    producer.flush()
    producer.close()
    member = KafkaConsumer(bootstrap_servers=kafka, group_id=ingest, enable_auto_commit=False)
    member.commit({TopicPartition("cx.feedback", 0): OffsetAndMetadata(4, "", -1)})
    member.close()

    found = {lag.group: lag for lag in group_lags(kafka, groups)}
    parts = {(p.topic, p.partition): p for p in found[ingest].partitions}
    assert len(parts) == 3 * 2
    feedback = parts[("cx.feedback", 0)]
    assert (feedback.committed, feedback.end, feedback.lag) == (4, 6, 2)
    interactions = parts[("cx.interactions", 1)]
    assert (interactions.committed, interactions.end, interactions.lag) == (None, 1, 1)
    assert found[ingest].lag == 3
    oldest = found[ingest].oldest_unsettled_ms
    assert oldest is not None and before - 5000 <= oldest <= int(time.time() * 1000)
    assert parts[("cx.followups", 0)].oldest_unsettled_ms is None
    assert found[enrich].lag == 6  # never committed: everything from the start
    assert found[enrich].as_dict()["partitions"][0]["end"] == 6
    assert list(consumer_groups("lagtest", enrich=False)) == [ingest]
