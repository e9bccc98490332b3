"""The collector's aiohttp application: ``create_collector(settings, bootstrap=...)``.

Every answer is JSON. ``POST /v1/events`` answers 200 only after Kafka acknowledged
(``acks=all``) every accepted event and every dead-letter envelope of the request;
anything else the client gets says what to do (fix, wait ``Retry-After``, retry). A
failure of ours is logged and answered 500 without a traceback. Keys and secrets are
never logged: the access log is off (webhook URLs may carry a secret).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import orjson
from aiohttp import web
from prometheus_client import generate_latest

from streams.collect.deadletters import DeadletterWriter
from streams.collect.hookfile import HookSecrets
from streams.collect.metrics import CollectorMetrics
from streams.comments.pii import masker
from streams.config import ConfigError, Settings
from streams.core.contract import DEADLETTER_TOPIC, Validator
from streams.core.intake import IntakeError, admit, decode_body
from streams.core.keys import ApiKey, presented_key
from streams.core.limits import FailureLimiter, TokenBuckets
from streams.dependencies import Watch, about, dependencies
from streams.kafka.produce import producer, send_all
from streams.kafka.security import KafkaSecurity
from streams.queries.keys import list_keys
from streams.warehouse import LazyWarehouse
from streams.web.answers import (
    CHALLENGE,
    HEADER_LIMITS,
    IDLE_SECONDS,
    answer,
    lowered,
    metrics_answer,
)
from streams.web.answers import (
    blocked as blocked_answer,
)
from streams.web.keyring import KeyRefresher

log = logging.getLogger(__name__)

LINGER_MS: Final = 2
"""Every request waits for its acknowledgement: batches linger only briefly."""
READY_TIMEOUT: Final = 2.0
LOG_EVERY: Final = 10.0
"""Kafka failures are logged at most this often (a broker outage fails every request)."""

ROUTES: Final[dict[tuple[str, str], tuple[int, ...]]] = {
    ("POST", "/v1/events"): (200, 400, 401, 403, 408, 413, 415, 429, 500, 503),
    ("POST", "/v1/hooks/{source}"): (200, 400, 401, 404, 408, 413, 429, 500, 503),
    ("GET", "/healthz"): (200,),
    ("GET", "/readyz"): (200, 503),
    ("GET", "/metrics"): (200, 401, 429),
}
"""Every route and the statuses it answers: schemas/http/collector.yaml documents the same
(tests/collect/test_openapi.py). Any route may also answer 404 or 405 for a wrong path or
method, JSON too."""


def server_options(settings: Settings) -> dict[str, Any]:
    """aiohttp server limits: header lines and fields bounded, gzip left to ``intake`` (which
    caps the inflated size), no access log (it would show webhook URLs)."""
    return {**HEADER_LIMITS, "auto_decompress": False, "access_log": None,
            "keepalive_timeout": IDLE_SECONDS}


class Collector:
    """Everything the routes share, started and stopped with the application."""

    def __init__(self, settings: Settings, bootstrap: str, warehouse_url: str) -> None:
        if settings.collect_max_event_bytes > settings.max_event_bytes:
            raise ConfigError(
                f"CX_COLLECT_MAX_EVENT_BYTES ({settings.collect_max_event_bytes}) must not "
                f"exceed CX_MAX_EVENT_BYTES ({settings.max_event_bytes}): the worker would "
                "dead-letter what the collector accepted")
        self.settings = settings
        self.bootstrap = bootstrap
        self.metrics = CollectorMetrics()
        self.validator = Validator(max_event_bytes=settings.max_event_bytes,
                                   max_age_seconds=settings.max_event_age_days * 86400)
        self.masker = masker(settings.pii_mask)
        self.pseudonym = settings.pseudonym()
        self.buckets = TokenBuckets(settings.collect_rate, settings.collect_burst)
        self.failures = FailureLimiter()
        keys_warehouse = LazyWarehouse(warehouse_url)
        self.keys = KeyRefresher(lambda: list_keys(keys_warehouse.get()),
                                 settings.keys_refresh_seconds, keys=self.metrics.keys,
                                 errors=self.metrics.key_refresh_errors)
        self.deadletters = DeadletterWriter(LazyWarehouse(warehouse_url), self.metrics)
        self.hook_secrets = _hook_secrets(settings.hook_secrets_file)
        self.watch = Watch(dependencies(settings, bootstrap, warehouse_url),
                           self.metrics.record_dependency)
        self.producer: Any = None
        self.in_flight = 0
        self._logged_kafka = 0.0
        self._logged_hook = 0.0

    async def deliver(self, key: ApiKey, items: list[Any]) -> web.Response:
        """Admit the items and answer once Kafka has every record of the request."""
        request_id = (int(time.time()) << 32) | secrets.randbits(32)
        admission = admit(items, key, self.validator, time.time(),
                          max_event_bytes=self.settings.collect_max_event_bytes,
                          request_id=request_id, masker=self.masker,
                          pseudonym=self.pseudonym)
        records = admission.records + [(DEADLETTER_TOPIC, None, envelope)
                                       for envelope in admission.envelopes]
        started = time.monotonic()
        try:
            if records:
                await asyncio.wait_for(send_all(self.producer, records),
                                       self.settings.collect_ack_timeout)
        except Exception as failure:  # timeout, broker gone, refused: the client retries
            self._log_kafka(failure)
            waited = self.settings.collect_ack_timeout
            return answer(503, "kafka_unavailable", f"Kafka did not acknowledge within "
                          f"{waited:g}s; nothing of this request is accepted: retry it (event "
                          "ids make retries safe)", retry=1.0)
        metrics = self.metrics
        if records:
            metrics.ack_seconds.observe(time.monotonic() - started)
        self.deadletters.add(admission.deadletters)
        tenant = key.tenant
        metrics.events.labels(tenant, "accepted").inc(len(admission.records))
        metrics.events.labels(tenant, "rejected").inc(len(admission.rejected))
        for reason, count in admission.reasons.items():
            metrics.rejected.labels(reason).inc(count)
        for kind, count in admission.pii.items():
            metrics.pii_masked.labels(kind).inc(count)
        return web.Response(
            body=orjson.dumps({"accepted": len(admission.records),
                               "rejected": admission.rejected}),
            content_type="application/json", headers={"X-Request-Id": str(request_id)})

    def log_refused_hook(self, source: str, text: str) -> None:
        """A refused webhook, logged at most every LOG_EVERY seconds (a sender with a wrong
        secret retries for hours); the message never holds a secret."""
        now = time.monotonic()
        if now - self._logged_hook > LOG_EVERY:
            self._logged_hook = now
            log.warning("refused a %s webhook: %s", source, text)

    def _log_kafka(self, failure: BaseException) -> None:
        now = time.monotonic()
        if now - self._logged_kafka > LOG_EVERY:
            self._logged_kafka = now
            log.warning("Kafka at %s did not acknowledge a request (answered 503): %s",
                        self.bootstrap, type(failure).__name__ + (f": {failure}" if str(failure)
                                                                  else ""),
                        extra=about("kafka", "collect requests"))


STATE: Final = web.AppKey("collector", Collector)
TENANT: Final = web.RequestKey("tenant", str)
"""The tenant a request acts for, once known: a label of the request metrics."""


async def read_body(request: web.Request, limit: int, timeout: float) -> bytes:
    """The body, at most ``limit`` bytes (413 past it) within ``timeout`` seconds (408)."""
    if request.content_length is not None and request.content_length > limit:
        raise IntakeError(413, "too_large", f"body is {request.content_length:,} bytes; the "
                          f"limit is {limit:,} (CX_COLLECT_MAX_BODY_BYTES)")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limit:
                    raise IntakeError(413, "too_large", f"body is over {limit:,} bytes "
                                      "(CX_COLLECT_MAX_BODY_BYTES)")
                chunks.append(chunk)
    except TimeoutError:
        raise IntakeError(408, "request_timeout", f"body not received within {timeout:g}s "
                          "(CX_COLLECT_READ_TIMEOUT)") from None
    return b"".join(chunks)


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


async def post_events(request: web.Request) -> web.Response:
    collector = request.app[STATE]
    settings = collector.settings
    address = _client(request)
    blocked = collector.failures.blocked(address)
    if blocked:
        return blocked_answer(blocked)
    key = collector.keys.ring.authenticate(presented_key(lowered(request.headers)))
    if key is None:
        if not collector.keys.loaded:
            return answer(503, "keys_unavailable", "the collector has not loaded its keys yet",
                          retry=1.0)
        collector.failures.fail(address)
        return answer(401, "unauthorized", "a valid write key is required: Authorization: "
                      "Bearer KEY, Authorization: Basic base64(KEY:) or X-Write-Key: KEY",
                      headers=CHALLENGE)
    request[TENANT] = key.tenant
    if not key.allows("write"):
        return answer(403, "forbidden", f"this is a {key.scope} key; sending events needs a "
                      "write key")
    try:
        body = await read_body(request, settings.collect_max_body_bytes,
                               settings.collect_read_timeout)
        collector.metrics.bytes_in.inc(len(body))
        items = decode_body(body, content_type=request.headers.get("Content-Type"),
                            content_encoding=request.headers.get("Content-Encoding"),
                            max_body_bytes=settings.collect_max_body_bytes,
                            max_events=settings.collect_max_events)
    except IntakeError as refused:
        return answer(refused.status, refused.reason, refused.message)
    wait = collector.buckets.take(key.tenant, len(items))
    if wait:
        return answer(429, "rate_limited", f"tenant {key.tenant} is over "
                      f"{settings.collect_rate:g} events/s (burst {settings.collect_burst})",
                      retry=wait)
    return await collector.deliver(key, items)


def _hooks() -> ModuleType | None:
    """``streams.hooks`` (signature checks and mappings), if this build has it."""
    try:
        import streams.hooks as hooks
    except ImportError:
        return None
    return hooks


def _hook_secrets(path: Path | None) -> HookSecrets:
    """The secrets of CX_HOOK_SECRETS_FILE (none when unset); ConfigError for a bad file."""
    hooks = _hooks()
    if path is not None and hooks is None:
        raise ConfigError("CX_HOOK_SECRETS_FILE is set but this build has no webhooks "
                          "(streams.hooks)")
    try:
        return HookSecrets(path, hooks.load_secrets if hooks else lambda _: {})
    except (OSError, ValueError) as error:
        raise ConfigError(f"CX_HOOK_SECRETS_FILE {path}: {error}") from None


async def _watch_hook_secrets(secrets: HookSecrets, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        secrets.reload()


async def post_hook(request: web.Request) -> web.Response:
    """A provider's signed webhook: verified by its signature with the tenant's secret for
    the source (not by a key), mapped to events, then the same admit-and-deliver path as
    ``/v1/events`` for the tenant of the URL. A tenant without a secret is answered like a
    wrong signature, so the answer tells nothing about which tenants are configured."""
    collector = request.app[STATE]
    settings = collector.settings
    hooks = _hooks()
    if hooks is None:
        return answer(503, "hooks_unavailable", "this collector was built without webhooks")
    tenant = request.query.get("tenant", "")
    if not tenant:
        return answer(400, "missing_tenant", "the webhook URL needs ?tenant=T")
    secrets_now = collector.hook_secrets.secrets
    request[TENANT] = tenant if tenant in secrets_now else "-"
    address = _client(request)
    blocked = collector.failures.blocked(address)
    if blocked:
        return blocked_answer(blocked, "signatures")
    try:
        body = await read_body(request, settings.collect_max_body_bytes,
                               settings.collect_read_timeout)
    except IntakeError as refused:
        return answer(refused.status, refused.reason, refused.message)
    collector.metrics.bytes_in.inc(len(body))
    source = request.match_info["source"]
    try:
        events = hooks.receive(source, tenant, lowered(request.headers), body,
                               secrets_now, time.time(),
                               query=dict(request.query))
    except hooks.HookError as refused:
        if refused.status == 401:
            collector.failures.fail(address)
        collector.log_refused_hook(source, refused.log_message)
        return answer(refused.status, refused.reason, refused.message)
    wait = collector.buckets.take(tenant, len(events))
    if wait:
        return answer(429, "rate_limited", f"tenant {tenant} is over {settings.collect_rate:g}"
                      f" events/s (burst {settings.collect_burst})", retry=wait)
    signed = ApiKey(id=f"hook-{source}", tenant=tenant, scope="write", name=source,
                    created_at=0, key_hash="")
    return await collector.deliver(signed, events)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when Kafka answers a metadata request and the keys are loaded."""
    collector = request.app[STATE]
    problems = []
    if not collector.keys.loaded:
        problems.append("keys not loaded from cx.api_keys")
    try:
        await asyncio.wait_for(collector.producer.client.fetch_all_metadata(), READY_TIMEOUT)
    except Exception:
        problems.append(f"Kafka at {collector.bootstrap} does not answer")
    if problems:
        return answer(503, "not_ready", "; ".join(problems), retry=1.0)
    return web.json_response({"status": "ready", "keys": len(collector.keys.ring)})


async def metrics_page(request: web.Request) -> web.Response:
    """The collector's metrics; with CX_METRICS_TOKEN set, only for its bearer."""
    collector = request.app[STATE]
    registry = collector.metrics.registry
    return metrics_answer(request, collector.settings.metrics_token, collector.failures,
                          _client(request), lambda: generate_latest(registry))


_LIMITED: Final = ("/v1/",)
"""Routes counted against CX_COLLECT_MAX_CONCURRENCY (probes and metrics never wait)."""
_NAMES: Final = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


@web.middleware
async def guard(request: web.Request,
                handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    """Bound concurrency, turn every failure into a JSON answer, count every request."""
    collector = request.app[STATE]
    limited = request.path.startswith(_LIMITED)
    response: web.StreamResponse
    if limited and collector.in_flight >= collector.settings.collect_max_concurrency:
        response = answer(503, "busy", "too many requests in progress "
                          "(CX_COLLECT_MAX_CONCURRENCY)", retry=1.0)
    else:
        collector.in_flight += limited
        collector.metrics.in_flight.set(collector.in_flight)
        try:
            response = await handler(request)
        except web.HTTPException as http:  # aiohttp's own: unknown path, wrong method
            headers = {"Allow": http.headers["Allow"]} if "Allow" in http.headers else None
            response = answer(http.status, _NAMES.get(http.status, "http_error"),
                              f"{http.reason}: {request.method} {request.path[:200]}",
                              headers=headers)
        except Exception:
            log.exception("collector failed on %s %s", request.method, request.path[:200])
            response = answer(500, "internal_error", "the collector failed on this request "
                              "(logged); retry later")
        finally:
            collector.in_flight -= limited
            collector.metrics.in_flight.set(collector.in_flight)
    route = request.match_info.route.resource
    collector.metrics.requests.labels(
        route.canonical if route is not None else "unmatched", request.get(TENANT, "-"),
        str(response.status)).inc()
    return response


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    collector = app[STATE]
    timeout_ms = int(max(collector.settings.collect_ack_timeout * 2, 10) * 1000)
    async with producer(collector.bootstrap, KafkaSecurity.of(collector.settings), acks="all",
                        linger_ms=LINGER_MS,
                        request_timeout_ms=timeout_ms) as client:
        collector.producer = client
        await collector.keys.refresh()
        every = collector.settings.keys_refresh_seconds
        tasks = [asyncio.create_task(collector.keys.run(), name="cx-keys"),
                 asyncio.create_task(collector.deadletters.run(), name="cx-deadletters"),
                 asyncio.create_task(_watch_hook_secrets(collector.hook_secrets, every),
                                     name="cx-hook-secrets"),
                 asyncio.create_task(collector.watch.run(), name="cx-dependencies")]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await collector.deadletters.flush(timeout=5.0)


def create_collector(settings: Settings, *, bootstrap: str,
                     warehouse_url: str | None = None) -> web.Application:
    """The collector for Kafka at ``bootstrap`` and the warehouse of ``settings`` (or
    ``warehouse_url``); Kafka and ClickHouse are reached when the app starts."""
    app = web.Application(middlewares=[guard],
                          client_max_size=settings.collect_max_body_bytes + 1)
    app[STATE] = Collector(settings, bootstrap, warehouse_url or settings.warehouse_url)
    app.cleanup_ctx.append(_lifecycle)
    handlers = {("POST", "/v1/events"): post_events, ("POST", "/v1/hooks/{source}"): post_hook,
                ("GET", "/healthz"): healthz, ("GET", "/readyz"): readyz,
                ("GET", "/metrics"): metrics_page}
    for (method, path), handler in handlers.items():
        app.router.add_route(method, path, handler)
    return app
