"""The Faust application: built from ``Settings`` by ``create_app``, nothing wired at import.

Faust runs the worker's life cycle, the web server (the read API and ``/metrics`` of
``streams.worker.api``), leader election and the leader's timers (``streams.worker.leader``);
the high-volume ingest is the batch consumer of ``streams.worker.ingest``, and the comment
enrichment another one (``streams.worker.enrich``; its domain is
``streams.comments.enrichment``), each in its consumer group, started with the app as
``CX_WORKER_ROLE`` says.
"""

from __future__ import annotations

import asyncio
import time

import faust
from mode import Service

from streams.comments.pii import masker
from streams.config import Settings
from streams.core.contract import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    INCIDENTS_TOPIC,
    NOTIFICATIONS_TOPIC,
    Validator,
)
from streams.core.ingest import build_batch
from streams.core.scores import parse_weights
from streams.dependencies import Watch, dependencies
from streams.kafka.security import KafkaSecurity
from streams.process import RELEASE_EVERY_S, release_memory
from streams.warehouse import LazyWarehouse
from streams.worker import metrics
from streams.worker.api import WEB_SETTINGS, add_api, web_options
from streams.worker.credentials import broker_credentials
from streams.worker.enrich import EnrichService
from streams.worker.ingest import IngestService
from streams.worker.leader import add_leader
from streams.worker.outages import Watching
from streams.worker.sink import Publish, Sink


def broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


INGEST_BEHIND_S = 10.0
"""An ingest whose settled time is this far behind is catching up: the model of the same
worker waits meanwhile (the scores first, then the comments)."""


def start_with(app: faust.App, service: Service) -> None:
    """``service`` starts with the app and stops with it (a runtime dependency)."""

    @app.task
    async def start_service() -> None:
        await app.add_runtime_dependency(service)


def faust_app(settings: Settings) -> faust.App:
    """Faust under ``CX_APP_ID``: an enrich-only worker under an id of its own, so it never
    joins the ingest workers' leader election (the leader publishes snapshots and judges
    alerts)."""
    return faust.App(
        settings.app_id if settings.worker_role != "enrich" else f"{settings.app_id}-enricher",
        broker=broker_urls(settings.kafka_servers),
        broker_credentials=broker_credentials(KafkaSecurity.of(settings)),
        datadir=str(settings.data_dir / "faust"),
        autodiscover=False,
        web_port=settings.metrics_port,
        topic_partitions=settings.partitions,
        value_serializer="raw",
        key_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=max(1.0, settings.session_timeout / 5),
        producer_max_request_size=4 * 1024 * 1024,
        web_application_options=web_options(),
        **WEB_SETTINGS,
    )


def publisher(app: faust.App) -> Publish:
    """The ``Publish`` of the sink and the leader, over the app's producer."""
    topics = {name: app.topic(name, value_serializer="raw", key_serializer="raw")
              for name in (DEADLETTER_TOPIC, NOTIFICATIONS_TOPIC, ALERTS_TOPIC, INCIDENTS_TOPIC)}

    async def publish(topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
        """Dead letters, notifications, alert changes or incident versions: returns once the
        broker has them all."""
        deliveries = [await topics[topic].send(key=key, value=value) for key, value in messages]
        await asyncio.gather(*deliveries)

    return publish


def add_memory_release(app: faust.App) -> None:
    """Cyclic garbage is collected and freed heap pages go back to the system every
    ``RELEASE_EVERY_S`` (``process.release_memory``)."""

    @app.timer(RELEASE_EVERY_S)
    async def release_freed_memory() -> None:
        release_memory()


def create_app(settings: Settings) -> faust.App:
    """The worker's Faust app, with its ingest or enrichment service or both (per
    ``CX_WORKER_ROLE``), the leader's timers and the web pages.

    Wiring only: each setting is parsed once here and one reader (``LazyWarehouse``) is
    shared by the timers and the read API, so what each part gets is visible in one place.
    """
    app = faust_app(settings)
    validator = Validator(max_event_bytes=settings.max_event_bytes,
                          max_age_seconds=settings.max_event_age_days * 86400)
    reader = LazyWarehouse(settings.warehouse_url)
    weights = parse_weights(settings.health_weights)
    mask = masker(settings.pii_mask)
    watch = Watch(dependencies(settings), metrics.record_dependency)
    app.add_dependency(Watching(watch))  # from the first moment, not after the rebalance
    add_memory_release(app)
    if settings.worker_role == "enrich":
        start_with(app, EnrichService(settings, validator, mask, beacon=app.beacon))
        add_api(app, settings, reader, weights, watch.problems)
        return app
    publish = publisher(app)
    sink = Sink(settings.warehouse_url, publish, settings.followup_deadline_ms,
                settings.notify_keywords)
    pseudonym = settings.pseudonym()
    ingest = IngestService(settings,
                           lambda records, now: build_batch(records, validator, now, mask,
                                                            pseudonym),
                           sink, metrics.record_batch, beacon=app.beacon)
    if settings.comment_enrich and settings.worker_role == "all":
        start_with(app, EnrichService(
            settings, validator, mask, beacon=app.beacon,
            wait=lambda: time.time() - ingest.settled_until > INGEST_BEHIND_S))
    start_with(app, ingest)
    add_leader(app, settings, reader, weights, publish, ingest)
    add_api(app, settings, reader, weights, watch.problems)
    return app
