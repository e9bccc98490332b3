"""The Kafka edge outside the worker: topics, the local broker, reachability and producing.

Names every part shares live here, so ``admin``, ``broker`` and ``produce`` do
not import each other for them.
"""

from __future__ import annotations

import logging

from streams.core.contract import DEADLETTER_TOPIC, SCORES_TOPIC, TOPIC_OF_TYPE

SOURCE_TOPICS = tuple(TOPIC_OF_TYPE.values())
ALL_TOPICS = (*SOURCE_TOPICS, DEADLETTER_TOPIC, SCORES_TOPIC)


class KafkaError(RuntimeError):
    """Kafka could not be reached or refused a request; the message names the address."""


logging.getLogger("kafka").setLevel(logging.ERROR)
