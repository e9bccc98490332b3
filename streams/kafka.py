"""Kafka edges used by the CLI: reachability, topic creation and a batching producer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from streams import broker
from streams.config import Settings
from streams.contract import DEADLETTER_TOPIC, SCORES_TOPIC, TOPIC_OF_TYPE

SOURCE_TOPICS = tuple(TOPIC_OF_TYPE.values())
ALL_TOPICS = (*SOURCE_TOPICS, DEADLETTER_TOPIC, SCORES_TOPIC)


class KafkaError(RuntimeError):
    """Kafka could not be reached or refused a request; the message names the address."""


def check_reachable(bootstrap: str, timeout: float = 5.0) -> None:
    """One clear line instead of a client library's retry loop when Kafka is not there."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            broker.wait_for_port(host or "localhost", int(port), timeout)
            return
        except (broker.BrokerError, ValueError):
            continue
    raise KafkaError(f"cannot reach Kafka at {bootstrap} (CX_KAFKA_BOOTSTRAP)")


@contextlib.contextmanager
def bootstrap_for(settings: Settings, *, start_local: bool) -> Iterator[str]:
    """The Kafka to use: configured, the local broker already running, or a new local one."""
    if settings.kafka_bootstrap:
        check_reachable(settings.kafka_bootstrap)
        yield settings.kafka_bootstrap
        return
    if not start_local and broker.running(settings.data_dir) is None:
        raise KafkaError(
            f"no Kafka: CX_KAFKA_BOOTSTRAP is unset and no local broker runs for CX_DATA_DIR="
            f"{settings.data_dir} (start one with 'cxpulse worker' or 'cxpulse demo')")
    with broker.local_broker(Path(settings.data_dir)) as address:  # reuses a running one
        yield address


def create_topics(bootstrap: str, partitions: int) -> list[str]:
    """Create the pipeline's topics that do not exist yet; return the ones created."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError as ClientError
    from kafka.errors import TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="cxpulse-admin",
                                 request_timeout_ms=15000)
    except ClientError as error:
        raise KafkaError(f"cannot reach Kafka at {bootstrap}: {error}") from error
    try:
        existing = set(admin.list_topics())
        missing = [name for name in ALL_TOPICS if name not in existing]
        created = []
        for name in missing:
            try:
                admin.create_topics([NewTopic(name, partitions, 1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another worker won the race
        return created
    except ClientError as error:
        raise KafkaError(f"Kafka at {bootstrap} refused topic creation: {error}") from error
    finally:
        admin.close()


@contextlib.asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[object]:
    """An aiokafka producer tuned for throughput (batched, lingering 20 ms)."""
    from aiokafka import AIOKafkaProducer

    client = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                              max_batch_size=1024 * 1024, max_request_size=4 * 1024 * 1024,
                              request_timeout_ms=30000)
    try:
        await client.start()
    except Exception as error:
        with contextlib.suppress(Exception):
            await client.stop()
        raise KafkaError(f"cannot reach Kafka at {bootstrap}: {error}") from error
    try:
        yield client
    finally:
        await client.stop()


async def send_all(client: object, records: list[tuple[str, bytes | None, bytes]]) -> None:
    """Send (topic, key, value) records and wait until the broker has them all."""
    send = client.send  # type: ignore[attr-defined]
    deliveries = [await send(topic, value, key=key) for topic, key, value in records]
    await asyncio.gather(*deliveries)


logging.getLogger("kafka").setLevel(logging.ERROR)
