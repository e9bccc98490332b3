"""The Kafka edge outside the worker: which Kafka, its topics, the local broker, producing.

The package itself holds only what every part shares (topic names, ``KafkaError``),
so importing ``produce`` loads neither the admin client nor the local-broker code.
"""

from __future__ import annotations

import logging

from streams.core.contract import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    INCIDENTS_TOPIC,
    NOTIFICATIONS_TOPIC,
    SCORES_TOPIC,
    TOPIC_OF_TYPE,
)

SOURCE_TOPICS = tuple(TOPIC_OF_TYPE.values())
ALL_TOPICS = (*SOURCE_TOPICS, DEADLETTER_TOPIC, SCORES_TOPIC, ALERTS_TOPIC, INCIDENTS_TOPIC,
              NOTIFICATIONS_TOPIC)

FETCH_LIMITS = {"max_partition_fetch_bytes": 1 << 20, "fetch_max_bytes": 16 << 20}
"""A source consumer's fetch sizes: as fast on loopback as 8 MiB a partition and 64 a
fetch (240k vs 247k messages/s, fetch and decode), and a catch-up after an outage holds at
most 16 MiB of fetched messages instead of 64 (the worker's memory keeps what it reaches)."""


class KafkaError(RuntimeError):
    """Kafka could not be reached or refused a request; the message names the address."""


class KafkaUnavailable(KafkaError):
    """Kafka did not answer (down, starting, cut off): worth waiting for, unlike a refusal."""


logging.getLogger("kafka").setLevel(logging.ERROR)
