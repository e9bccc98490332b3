"""The Faust application (``streams.app:app``): the ingest agent and the web pages.

Settings come from the environment when this module is imported, so the CLI
sets ``CX_KAFKA_BOOTSTRAP`` (e.g. to the local broker) before importing it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

import faust
import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.config import Settings
from streams.core.contract import DEADLETTER_TOPIC, SCORES_TOPIC, TOPIC_OF_TYPE, Validator
from streams.core.ingest import build_batch
from streams.core.rows import Batch, Source
from streams.core.scores import parse_weights
from streams.core.units import parse_duration, parse_time
from streams.queries.snapshots import snapshot
from streams.queries.windows import window_scores
from streams.warehouse import LazyWarehouse, WarehouseError
from streams.worker import metrics
from streams.worker.gauges import clear_gauges, publish_gauges
from streams.worker.sink import Sink

log = logging.getLogger(__name__)

settings = Settings.from_env()


def broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


app = faust.App(
    settings.app_id,
    broker=broker_urls(settings.kafka_bootstrap or "127.0.0.1:9092"),
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
    consumer_max_fetch_size=8 * 1024 * 1024,
)

source_topics = app.topic(*TOPIC_OF_TYPE.values(), value_serializer="raw", key_serializer="raw")
deadletter_topic = app.topic(DEADLETTER_TOPIC, value_serializer="raw", key_serializer="raw")
validator = Validator(max_event_bytes=settings.max_event_bytes,
                      max_age_seconds=settings.max_event_age_days * 86400)


async def publish_deadletters(envelopes: list[bytes]) -> None:
    deliveries = [await deadletter_topic.send(value=envelope) for envelope in envelopes]
    await asyncio.gather(*deliveries)


sink = Sink(settings.warehouse_url, publish_deadletters, settings.followup_deadline_ms)
reader = LazyWarehouse(settings.warehouse_url)


def record(batch: Batch, messages: list[Any], now: float) -> None:
    """Pipeline metrics for one written batch (counts per topic, lag, latency)."""
    topics = Counter(message.topic for message in messages)
    rejected = Counter(row["topic"] for row in batch.rows.get("deadletters", ()))
    for topic, count in topics.items():
        metrics.EVENTS.labels(topic, "accepted").inc(count - rejected[topic])
        metrics.EVENTS.labels(topic, "rejected").inc(rejected[topic])
    for row in batch.rows.get("deadletters", ()):
        metrics.DEADLETTERS.labels(row["reason"]).inc()
    metrics.SINK_BATCH_ROWS.observe(len(messages))
    lag = metrics.EVENT_LAG_SECONDS.observe
    for event in batch.accepted:
        lag(max(0.0, now - event.occurred_ms / 1000))
    written = time.time()
    latency = metrics.SCORE_LATENCY_SECONDS.observe
    last: dict[Any, Any] = {}
    for message in messages:
        if message.timestamp:
            latency(max(0.0, written - message.timestamp))
        last[message.tp] = message
    for tp, message in last.items():
        highwater = app.consumer.highwater(tp)
        if highwater is not None:
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(
                max(0, highwater - message.offset - 1))


@app.agent(source_topics, name="cxpulse.ingest", concurrency=1)
async def ingest(stream: faust.StreamT) -> None:
    """Validate, write and dead-letter in batches bounded by rows and time.

    Each message gets one extra reference while its batch is written, so if the
    write is interrupted (shutdown, crash) take_events' own ack cannot mark it
    done: offsets are committed only for rows that are in ClickHouse.
    """
    async for events in stream.take_events(settings.batch_rows, within=settings.batch_seconds):
        messages = [event.message for event in events]
        for message in messages:
            message.incref()
        now = time.time()
        batch = build_batch(
            ((Source(m.topic, m.partition, m.offset), m.value) for m in messages), validator, now)
        await sink.write(batch)
        for message in messages:
            message.decref()
        record(batch, messages, now)


@app.on_rebalance_complete.connect
async def count_assignment(sender: faust.App, **_: object) -> None:
    mine = [tp for tp in app.consumer.assignment() if tp.topic in TOPIC_OF_TYPE.values()]
    metrics.ASSIGNED_PARTITIONS.set(len(mine))


weights = parse_weights(settings.health_weights)
scores_topic = app.topic(SCORES_TOPIC, value_serializer="raw", key_serializer="raw")
published: dict[str, bytes] = {}
"""Last values sent to cx.scores per scope and window (bounded by the number of scopes)."""


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
        for row in rows:
            key = "|".join((row["tenant"], row["channel"], row["touchpoint"], row["window"]))
            values = orjson.dumps({k: v for k, v in row.items() if k != "window_end"})
            if published.get(key) != values:  # only what changed
                await scores_topic.send(key=key.encode(), value=orjson.dumps(row))
                published[key] = values
    except Exception as error:
        log.warning("score snapshot skipped: %s: %s", type(error).__name__, error)


@app.page("/v1/scores")
async def scores_api(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    """GET /v1/scores?window=1h&at=...&tenant=&channel=&touchpoint= : as ``cxpulse scores --json``.

    Any worker answers: the state is in ClickHouse, not in one worker's memory.
    """
    query = request.query
    try:
        window = parse_duration(query.get("window", "1h"))
        at = parse_time(query.get("at", "now"))
    except ValueError as error:
        return web.json({"error": str(error)}, status=400)
    try:
        rows = await asyncio.to_thread(
            window_scores, reader.get(), end_ms=int(at * 1000), window_ms=int(window * 1000),
            deadline_ms=settings.followup_deadline_ms, tenant=query.get("tenant"),
            channel=query.get("channel"), touchpoint=query.get("touchpoint"), weights=weights)
    except WarehouseError as error:
        return web.json({"error": str(error)}, status=503)
    return web.bytes(orjson.dumps(rows), content_type="application/json")


@app.page("/metrics")
async def prometheus_metrics(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])
