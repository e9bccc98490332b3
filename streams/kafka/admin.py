"""Which Kafka to use and its topics: one clear error instead of a client's retry loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from streams.config import Settings
from streams.kafka import ALL_TOPICS, KafkaError, KafkaUnavailable, broker
from streams.kafka.security import PLAINTEXT, KafkaSecurity, client_failure, quiet_clients
from streams.ports import wait_for_port


def check_reachable(bootstrap: str, security: KafkaSecurity = PLAINTEXT,
                    timeout: float = 5.0) -> None:
    """One clear line instead of a client library's retry loop when Kafka is not there, or
    (with TLS) does not present a certificate we trust."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            wait_for_port(host or "localhost", int(port), timeout)
        except (TimeoutError, ValueError):
            continue
        security.probe(host or "localhost", int(port), timeout)
        return
    raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap} (CX_KAFKA_BOOTSTRAP)")


async def login(bootstrap: str, security: KafkaSecurity, timeout: float) -> None:
    """Fetch metadata once with the configured security: no retry, and the client libraries'
    loggers left as they are (the dependency probe runs it every few seconds, beside the
    service's own clients); ``login_failure`` says what a failure means."""
    from aiokafka import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, client_id="cxpulse-check",
                            request_timeout_ms=int(timeout * 1000), **security.aiokafka())
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
    finally:
        await client.close()


def login_failure(bootstrap: str, security: KafkaSecurity, error: Exception) -> KafkaError:
    """``login``'s failure as one line; ``KafkaUnavailable`` when the broker closed the
    connection or did not answer in time (worth retrying), not when it refused the login."""
    from aiokafka.errors import KafkaConnectionError

    failure = client_failure(bootstrap, security, error)
    if isinstance(error, KafkaConnectionError | TimeoutError) \
            and "refused SASL" not in str(failure):
        return KafkaUnavailable(str(failure))
    return failure


def check_login(bootstrap: str, security: KafkaSecurity, wait: float = 0.0,
                timeout: float = 5.0) -> None:
    """Fetch metadata once with the configured security, so a refused login or a plaintext
    client at a TLS port is one line now, not the admin client's seconds of retries.

    A broker that closes the connection may be a wrong protocol or a broker still starting
    (or briefly cut off): services pass ``wait`` to retry that for a while; a refused
    login fails at once.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            with quiet_clients():
                asyncio.run(login(bootstrap, security, timeout))
            return
        except Exception as error:
            failure = login_failure(bootstrap, security, error)
            if not isinstance(failure, KafkaUnavailable) or time.monotonic() >= deadline:
                raise failure from None
        time.sleep(0.5)


@contextlib.contextmanager
def bootstrap_for(bootstrap: str | None, data_dir: Path, security: KafkaSecurity = PLAINTEXT,
                  *, start_local: bool) -> Iterator[str]:
    """The Kafka to use: ``bootstrap`` (CX_KAFKA_BOOTSTRAP) if set, else the local broker
    already running for ``data_dir`` (CX_DATA_DIR), or a new local one if ``start_local``."""
    if bootstrap:
        check_reachable(bootstrap, security)
        # Services (worker, collector) wait out a broker that is starting or briefly away,
        # as the admin client that creates their topics would; one-shot commands do not.
        check_login(bootstrap, security, wait=30.0 if start_local else 0.0)
        yield bootstrap
        return
    if security.protocol != "PLAINTEXT":
        raise KafkaError(f"CX_KAFKA_SECURITY_PROTOCOL={security.protocol} needs "
                         "CX_KAFKA_BOOTSTRAP: the bundled local broker speaks PLAINTEXT only")
    if not start_local and broker.running(data_dir) is None:
        raise KafkaError(
            f"no Kafka: CX_KAFKA_BOOTSTRAP is unset and no local broker runs for CX_DATA_DIR="
            f"{data_dir} (start one with 'cxpulse worker' or 'cxpulse demo')")
    with broker.local_broker(Path(data_dir)) as address:  # reuses a running one
        yield address


@contextlib.contextmanager
def kafka_for(settings: Settings, *,
              start_local: bool = False) -> Iterator[tuple[str, KafkaSecurity]]:
    """The Kafka the settings name (see ``bootstrap_for``) and the security to speak to it
    with, read from the settings once for every client the command opens."""
    security = KafkaSecurity.of(settings)
    with bootstrap_for(settings.kafka_bootstrap, settings.data_dir, security,
                       start_local=start_local) as bootstrap:
        yield bootstrap, security


def create_topics(bootstrap: str, partitions: int, security: KafkaSecurity) -> list[str]:
    """Create the pipeline's topics that do not exist yet; return the ones created."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError as ClientError
    from kafka.errors import TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="cxpulse-admin",
                                 request_timeout_ms=15000, bootstrap_timeout_ms=15000,
                                 **security.kafka_python())
    except (ClientError, KeyError) as error:  # a SCRAM exchange the broker cut short: KeyError
        raise client_failure(bootstrap, security, error) from error
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
