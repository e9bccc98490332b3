"""The Faust application: built from ``Settings`` by ``create_app``, nothing wired at import.

Faust runs the worker's life cycle, the web server (the read API and ``/metrics`` of
``streams.worker.api``), leader election and the snapshot timer; the high-volume ingest is
the batch consumer of ``streams.worker.ingest``, and the comment enrichment another one
(``streams.worker.enrich``), each in its consumer group, started with the app as
``CX_WORKER_ROLE`` says.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

import faust
import orjson
from aiokafka import AIOKafkaConsumer
from mode import Service

from streams.comments.pii import masker
from streams.config import Settings
from streams.core.contract import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    INCIDENTS_TOPIC,
    NOTIFICATIONS_TOPIC,
    SCORES_TOPIC,
    Validator,
)
from streams.core.incidents import incidents
from streams.core.ingest import build_batch
from streams.core.rows import DEADLETTER_TABLE, as_dict
from streams.core.scores import parse_weights
from streams.kafka.security import KafkaSecurity
from streams.queries.alerting import record as record_alerts
from streams.queries.incidents import record as record_incidents
from streams.queries.retention import apply_retention
from streams.queries.snapshots import snapshot
from streams.warehouse import LazyWarehouse
from streams.worker import metrics
from streams.worker.alerting import AlertPass, Grouped, incident_labels, message, open_labels
from streams.worker.api import WEB_SETTINGS, add_api, web_options
from streams.worker.credentials import broker_credentials
from streams.worker.enrich import EnrichService
from streams.worker.gauges import clear_gauges, publish_gauges, show_alerts, show_incidents
from streams.worker.ingest import Fetched, IngestService
from streams.worker.sink import Sink

log = logging.getLogger(__name__)


def broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def record(fetched: Fetched, consumer: AIOKafkaConsumer) -> None:
    """Pipeline metrics for one written batch (counts per topic, lag, latency)."""
    batch = fetched.batch
    dead = [as_dict(DEADLETTER_TABLE, row) for row in batch.rows.get(DEADLETTER_TABLE, ())]
    rejected = Counter(row["topic"] for row in dead)
    for topic, count in fetched.topics.items():
        metrics.EVENTS.labels(topic, "accepted").inc(count - rejected[topic])
        metrics.EVENTS.labels(topic, "rejected").inc(rejected[topic])
    for reason, count in Counter(row["reason"] for row in dead).items():
        metrics.DEADLETTERS.labels(reason).inc(count)
    for kind, count in batch.pii.items():
        metrics.PII_MASKED.labels(kind).inc(count)
    metrics.SINK_BATCH_ROWS.observe(sum(fetched.topics.values()))
    now = fetched.validated_at
    metrics.observe_many(metrics.EVENT_LAG_SECONDS,
                         (max(0.0, now - event.occurred_ms / 1000) for event in batch.accepted))
    written_ms = time.time() * 1000
    metrics.observe_many(metrics.SCORE_LATENCY_SECONDS,
                         (max(0.0, (written_ms - sent) / 1000) for sent in fetched.sent_ms))
    for tp, next_offset in fetched.offsets.items():
        highwater = consumer.highwater(tp)
        if highwater is not None:
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(
                max(0, highwater - next_offset))


INGEST_BEHIND_S = 10.0
"""An ingest whose settled time is this far behind is catching up: the model of the same
worker waits meanwhile (the scores first, then the comments)."""


def start_with(app: faust.App, service: Service) -> None:
    """``service`` starts with the app and stops with it (a runtime dependency)."""

    @app.task
    async def start_service() -> None:
        await app.add_runtime_dependency(service)


def create_app(settings: Settings) -> faust.App:
    """The worker's Faust app, with its ingest or enrichment service or both (per
    ``CX_WORKER_ROLE``), the ingest's timers and the web pages.

    An enrich-only worker runs Faust under an app id of its own, so it never joins the
    ingest workers' leader election (the leader publishes snapshots and judges alerts).
    """
    role = settings.worker_role
    app = faust.App(
        settings.app_id if role != "enrich" else f"{settings.app_id}-enricher",
        broker=broker_urls(settings.kafka_bootstrap or "127.0.0.1:9092"),
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
    scores_topic = app.topic(SCORES_TOPIC, value_serializer="raw", key_serializer="raw")
    batch_topics = {name: app.topic(name, value_serializer="raw", key_serializer="raw")
                    for name in (DEADLETTER_TOPIC, NOTIFICATIONS_TOPIC, ALERTS_TOPIC,
                                 INCIDENTS_TOPIC)}

    async def publish(topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
        """Dead letters, notifications, alert changes or incident versions: returns once the
        broker has them all."""
        deliveries = [await batch_topics[topic].send(key=key, value=value)
                      for key, value in messages]
        await asyncio.gather(*deliveries)

    validator = Validator(max_event_bytes=settings.max_event_bytes,
                          max_age_seconds=settings.max_event_age_days * 86400)
    sink = Sink(settings.warehouse_url, publish, settings.followup_deadline_ms,
                settings.notify_keywords)
    reader = LazyWarehouse(settings.warehouse_url)
    weights = parse_weights(settings.health_weights)
    published: dict[str, bytes] = {}
    """Last values sent to cx.scores per scope and window (bounded by the number of scopes)."""

    mask = masker(settings.pii_mask)
    if role == "enrich":
        start_with(app, EnrichService(settings, validator, mask, beacon=app.beacon))
        add_api(app, settings, reader, weights)
        return app
    pseudonym = settings.pseudonym()
    ingest = IngestService(settings,
                           lambda records, now: build_batch(records, validator, now, mask,
                                                            pseudonym),
                           sink, record, beacon=app.beacon)
    if settings.comment_enrich and role == "all":
        start_with(app, EnrichService(
            settings, validator, mask, beacon=app.beacon,
            wait=lambda: time.time() - ingest.settled_until > INGEST_BEHIND_S))
    alert_pass = AlertPass(settings.detector(), settings.followup_deadline_ms,
                           int(settings.alert_delay * 1000))

    start_with(app, ingest)
    @app.timer(settings.alert_seconds)
    async def evaluate_alerts() -> None:
        """The leader judges score drops; changes go to cx.alerts (topic, then table), the
        incidents they make to cx.incidents (topic, then table).

        Published before recorded: a crash in between fires the change again (the
        same key) rather than losing it. Waits while ingest catches up. The alert and
        incident gauges change together, after both, so a scrape sees an alert with its
        incident (Alertmanager holds back the alerts of a notified incident).
        """
        if not app.is_leader():
            return
        now_ms = int(time.time() * 1000)
        if ingest.settled_until * 1000 < alert_pass.end_of(now_ms):
            metrics.ALERT_PASSES.labels("waiting").inc()
            return
        try:
            judged = await asyncio.to_thread(alert_pass.judge, reader.get(), now_ms)
            if judged is None:
                metrics.ALERT_PASSES.labels("waiting").inc()
                return
            changes, history = judged.changes, judged.history
            await publish(ALERTS_TOPIC, [message(change) for change in changes])
            await asyncio.to_thread(record_alerts, reader.get(), changes)
        except Exception as error:
            metrics.ALERT_PASSES.labels("failed").inc()
            log.warning("alert pass skipped: %s: %s", type(error).__name__, error)
            return
        grouped: Grouped | None = None
        try:
            grouped = await asyncio.to_thread(alert_pass.group, reader.get(), judged)
            await publish(INCIDENTS_TOPIC, grouped.messages())
            await asyncio.to_thread(record_incidents, reader.get(), grouped.fresh,
                                    grouped.details)
        except Exception as error:  # the next pass recomputes them from cx.alerts
            log.warning("incident pass skipped: %s: %s", type(error).__name__, error)
        found = grouped.found if grouped else incidents(history + changes)
        show_alerts(open_labels(history + changes, found))
        if grouped is not None:
            show_incidents(incident_labels(grouped.found), grouped.info())
        for change in changes:
            metrics.ALERT_CHANGES.labels(change.state).inc()
            log.warning("alert %s: %s %s", change.state, "/".join(change.key), change.reason)
        metrics.ALERT_PASSES.labels("done").inc()

    retention_ran: list[float] = []

    @app.timer(3600.0)
    async def enforce_retention() -> None:
        """The leader drops expired months (CX_RETENTION_DAYS) at most once a day."""
        if settings.retention_days is None or not app.is_leader():
            return
        if retention_ran and time.time() - retention_ran[-1] < 86400:
            return
        try:
            dropped = await asyncio.to_thread(apply_retention, reader.get(),
                                              days=settings.retention_days,
                                              now_s=int(time.time()))
        except Exception as error:
            log.warning("retention pass skipped: %s: %s", type(error).__name__, error)
            return
        retention_ran[:] = [time.time()]
        for table, months in dropped.items():
            log.warning("retention: dropped %s months %s", table, ", ".join(map(str, months)))

    @app.timer(settings.snapshot_seconds)
    async def publish_snapshots() -> None:
        """The leader publishes rolling scores; the others show none, so nothing counts twice.

        A snapshot that fails (ClickHouse away, shutting down) is skipped, never fatal:
        the next one follows in CX_SNAPSHOT_SECONDS.
        """
        if not app.is_leader():
            clear_gauges()
            published.clear()
            return
        try:
            rows = await asyncio.to_thread(
                snapshot, reader.get(), now_ms=int(time.time() * 1000),
                windows_ms=[int(seconds * 1000) for seconds in settings.score_windows],
                deadline_ms=settings.followup_deadline_ms, top_n=settings.top_touchpoints,
                weights=weights, min_answers=settings.min_answers)
            publish_gauges(rows)
            metrics.SNAPSHOT_LAST_SUCCESS.set_to_current_time()
            for row in rows:
                key = "|".join((row["tenant"], row["channel"], row["touchpoint"], row["window"]))
                values = orjson.dumps({k: v for k, v in row.items() if k != "window_end"})
                if published.get(key) != values:  # only what changed
                    await scores_topic.send(key=key.encode(), value=orjson.dumps(row))
                    published[key] = values
        except Exception as error:
            log.warning("score snapshot skipped: %s: %s", type(error).__name__, error)

    add_api(app, settings, reader, weights)
    return app
