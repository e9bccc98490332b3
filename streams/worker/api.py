"""The worker's web pages: the tenant-scoped read API and ``/metrics``.

``GET /v1/scores``, ``/v1/alerts``, ``/v1/incidents``, ``/v1/cases`` and ``/v1/comments``
answer what ``cxpulse scores``, ``alerts --json``, ``incidents --json``, ``cases --json`` and
``comments --json`` print, for
the tenant of the key presented (``streams.core.reads`` decides); any worker answers, the
state is in ClickHouse. Keys are re-read from ``cx.api_keys`` every CX_KEYS_REFRESH_SECONDS.
Every refusal is JSON, repeated authentication failures from one address are blocked a
while, and the aiohttp server under Faust gets the same header, body and time bounds as
the collector. Keys are never logged (aiohttp's access log is off under Faust).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import faust
import orjson
from aiohttp import web
from prometheus_client import generate_latest

from streams.comments.labels import SENTIMENTS, THEMES
from streams.config import Settings
from streams.core import reads
from streams.core.keys import ApiKey, presented_key
from streams.core.limits import FailureLimiter
from streams.dependencies import about
from streams.queries.alerting import alert_rows, history
from streams.queries.cases import unmet_cases
from streams.queries.comments import recent_comments
from streams.queries.incidents import listing
from streams.queries.keys import list_keys
from streams.queries.windows import window_scores
from streams.warehouse import LazyWarehouse, WarehouseError, one_line
from streams.web.answers import (
    CHALLENGE,
    HEADER_LIMITS,
    IDLE_SECONDS,
    QuietBadRequests,
    answer,
    lowered,
    metrics_answer,
)
from streams.web.answers import (
    blocked as blocked_answer,
)
from streams.web.keyring import KeyRefresher
from streams.worker import metrics

log = logging.getLogger(__name__)

READ_STATUSES: Final = (200, 400, 401, 403, 429, 503)
ROUTES: Final[dict[str, tuple[int, ...]]] = {
    **dict.fromkeys(("/v1/scores", "/v1/alerts", "/v1/incidents", "/v1/cases", "/v1/comments"),
                    READ_STATUSES),
    "/metrics": (200, 401, 429), "/healthz": (200,), "/readyz": (200, 503)}
"""Every GET route and the statuses it answers: schemas/http/worker.yaml documents the same
(tests/worker/test_openapi.py). Any route may also answer 404, 405 or 500, JSON too."""
OPEN_PATHS: Final = ("/healthz", "/readyz")
"""What the worker serves without a key or token: probes point here."""
REQUEST_SECONDS: Final = 30.0
"""Longest a request may take (a read of a huge window): then 503, the query abandoned."""
MAX_BODY_BYTES: Final = 4096
"""Every page is a GET and reads no body; aiohttp refuses a larger one if one is ever read."""
LOG_EVERY: Final = 10.0

Params = dict[str, str]
Read = Callable[[Params, "str | None"], Any]
"""(checked parameters, the tenant the read is limited to or None for all) -> JSON-ready
rows; runs in a thread (ClickHouse calls block)."""


def web_options() -> dict[str, Any]:
    """Faust's ``web_application_options``: the aiohttp application's limits and guard."""
    return {"client_max_size": MAX_BODY_BYTES, "middlewares": [guard],
            "handler_args": {**HEADER_LIMITS, "keepalive_timeout": IDLE_SECONDS}}


WEB_SETTINGS: Final = {"web_router_enabled": False, "web_tables_enabled": False,
                       "web_stats_enabled": False, "web_graph_enabled": False,
                       "web_metrics_enabled": False}
"""Faust's own pages off: /router and /table would show the cluster and tables to anyone.
Left on: Faust's ``/``, ``{"status": "OK"}`` (no data)."""

_NAMES: Final = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


@web.middleware
async def guard(request: web.Request, handler: Callable[[web.Request], Any]
                ) -> web.StreamResponse:
    """Every answer JSON, none slower than REQUEST_SECONDS, no traceback to a client."""
    try:
        async with asyncio.timeout(REQUEST_SECONDS):
            return await handler(request)
    except web.HTTPException as http:  # aiohttp's own: unknown path, wrong method, body size
        headers = {"Allow": http.headers["Allow"]} if "Allow" in http.headers else None
        return answer(http.status, _NAMES.get(http.status, "http_error"),
                      f"{http.reason}: {request.method} {request.path[:200]}", headers=headers)
    except TimeoutError:
        return answer(503, "timeout", f"the request took over {REQUEST_SECONDS:g}s; retry, or "
                      "ask for a shorter window", retry=1.0)
    except Exception:
        log.exception("worker failed on %s %s", request.method, request.path[:200])
        return answer(500, "internal_error", "the worker failed on this request (logged)")


class ReadApi:
    """The key ring, the failure limiter and the read endpoints of one worker."""

    def __init__(self, settings: Settings, reader: LazyWarehouse,
                 weights: Mapping[str, float]) -> None:
        self.settings = settings
        self.reader = reader
        self.weights = weights
        self.failures = FailureLimiter()
        keys_warehouse = LazyWarehouse(settings.warehouse_url)  # never queued behind reads
        self.keys = KeyRefresher(lambda: list_keys(keys_warehouse.get()),
                                 settings.keys_refresh_seconds, keys=metrics.API_KEYS,
                                 errors=metrics.API_KEY_REFRESH_ERRORS)
        self._logged_warehouse = 0.0

    def endpoints(self) -> dict[str, tuple[tuple[str, ...], Read]]:
        """Path -> (the parameters it takes, its read)."""
        return {
            "/v1/scores": (("window", "at", "tenant", "channel", "touchpoint", "detail"),
                           self.scores),
            "/v1/alerts": (("since", "firing", "tenant"), self.alerts),
            "/v1/incidents": (("since", "open", "tenant"), self.incidents),
            "/v1/cases": (("overdue", "tenant"), self.cases),
            "/v1/comments": (("tenant", "channel", "theme", "sentiment", "since", "limit"),
                             self.comments),
        }

    def scores(self, params: Params, tenant: str | None) -> Any:
        """As ``cxpulse scores``; ``detail=1`` adds intervals and counts (``cxpulse top``)."""
        window = reads.window_seconds(params.get("window", "1h"))
        at = reads.moment(params.get("at", "now"), "at")
        detail = reads.flag(params.get("detail", ""), "detail")
        return window_scores(
            self.reader.get(), end_ms=int(at * 1000), window_ms=int(window * 1000),
            deadline_ms=self.settings.followup_deadline_ms, tenant=tenant,
            channel=params.get("channel") or None, touchpoint=params.get("touchpoint") or None,
            weights=self.weights, detail=detail)

    def alerts(self, params: Params, tenant: str | None) -> Any:
        """As ``cxpulse alerts --json`` (``since`` an RFC 3339 time, ``firing=1``)."""
        since = reads.moment(params.get("since", "1970-01-01T00:00:00Z"), "since")
        firing = reads.flag(params.get("firing", ""), "firing")
        return alert_rows(history(self.reader.get(), since_s=int(since), firing_only=firing,
                                  tenant=tenant))

    def incidents(self, params: Params, tenant: str | None) -> Any:
        """As ``cxpulse incidents --json`` (``since`` an RFC 3339 time, ``open=1``)."""
        since = reads.moment(params.get("since", "1970-01-01T00:00:00Z"), "since")
        open_only = reads.flag(params.get("open", ""), "open")
        return listing(self.reader.get(), since_s=int(since), open_only=open_only,
                       tenant=tenant)

    def cases(self, params: Params, tenant: str | None) -> Any:
        """As ``cxpulse cases --json`` (``overdue=1``: only those past their deadline)."""
        overdue = reads.flag(params.get("overdue", ""), "overdue")
        return unmet_cases(self.reader.get(), now_ms=int(time.time() * 1000), tenant=tenant,
                           overdue_only=overdue)

    def comments(self, params: Params, tenant: str | None) -> Any:
        """As ``cxpulse comments --json``: newest first, ``limit`` 50 by default."""
        theme = params.get("theme") or None
        if theme is not None:
            reads.choice(theme, "theme", (*THEMES, *self.settings.comment_themes))
        sentiment = params.get("sentiment") or None
        if sentiment is not None:
            reads.choice(sentiment, "sentiment", SENTIMENTS)
        since = reads.since(params["since"]) if params.get("since") else None
        return recent_comments(self.reader.get(), tenant=tenant,
                               channel=params.get("channel") or None, theme=theme,
                               sentiment=sentiment, since_s=since,
                               limit=reads.limit(params.get("limit", "50")))

    async def authenticate(self, request: web.Request) -> ApiKey | web.Response | None:
        """The key of the request (None with CX_API_AUTH=off), or the refusal to answer."""
        if not self.settings.api_auth:
            return None
        address = request.remote or "unknown"
        blocked = self.failures.blocked(address)
        if blocked:
            return blocked_answer(blocked)
        if not self.keys.loaded:  # the first request may come before the first refresh
            await self.keys.refresh()
        text = presented_key(lowered(request.headers))
        key = self.keys.ring.authenticate(text)
        if key is not None:
            return key
        if not self.keys.loaded:
            return answer(503, "keys_unavailable", "the worker has not loaded its keys yet",
                          retry=1.0)
        if text is not None:  # a key was tried: a guess, counted (a missing one is not)
            self.failures.fail(address)
        return answer(401, "unauthorized", "a valid read key is required: Authorization: "
                      "Bearer KEY, X-API-Key: KEY or Authorization: Basic base64(KEY:)",
                      headers=CHALLENGE)

    async def serve(self, request: web.Request, known: tuple[str, ...], read: Read
                    ) -> web.Response:
        key = await self.authenticate(request)
        if isinstance(key, web.Response):
            return key
        try:
            params = reads.single(request.query.items(), known)
            tenant = reads.read_tenant(key, params.get("tenant"))
            rows = await asyncio.to_thread(read, params, tenant)
        except reads.Refused as refused:
            return answer(refused.status, refused.reason, refused.message)
        except WarehouseError as error:
            self._log_warehouse(error)
            return answer(503, "warehouse_unavailable", "ClickHouse did not answer; retry "
                          "later", retry=1.0)
        return web.Response(body=orjson.dumps(rows), content_type="application/json")

    async def metrics_page(self, request: web.Request) -> web.Response:
        """Prometheus text; with CX_METRICS_TOKEN set, only for its bearer."""
        return metrics_answer(request, self.settings.metrics_token, self.failures,
                              request.remote or "unknown", generate_latest)

    def _log_warehouse(self, error: WarehouseError) -> None:
        now = time.monotonic()
        if now - self._logged_warehouse > LOG_EVERY:
            self._logged_warehouse = now
            log.warning("read API answered 503: %s", one_line(error),
                        extra=about("clickhouse", "read API"))


def add_api(app: faust.App, settings: Settings, reader: LazyWarehouse,
            weights: Mapping[str, float], problems: Callable[[], list[str]] = list) -> ReadApi:
    """The read API and /metrics as Faust pages, and the key refresh (with auth on);
    ``problems`` says why the worker is not ready (``streams.dependencies.Watch``)."""
    api = ReadApi(settings, reader, weights)
    logging.getLogger("aiohttp.server").addFilter(QuietBadRequests())
    if settings.api_auth:
        @app.task
        async def load_keys() -> None:
            await api.keys.refresh()

        @app.timer(settings.keys_refresh_seconds)
        async def refresh_keys() -> None:
            await api.keys.refresh()
    else:
        log.warning("CX_API_AUTH=off: the /v1 read API serves EVERY tenant's scores, alerts, "
                    "cases and comments to anyone who reaches port %d; use it for the "
                    "embedded demo only", settings.metrics_port)

    for path, (known, read) in api.endpoints().items():
        async def page(view: faust.web.View, request: web.Request, known: tuple[str, ...] = known,
                       read: Read = read) -> web.Response:
            return await api.serve(request, known, read)

        page.__name__ = page.__qualname__ = f"api_{path.rsplit('/', 1)[1]}"
        app.page(path)(page)

    @app.page("/metrics")
    async def prometheus_metrics(view: faust.web.View, request: web.Request) -> web.Response:
        return await api.metrics_page(request)

    @app.page(OPEN_PATHS[0])
    async def healthz(view: faust.web.View, request: web.Request) -> web.Response:
        """Liveness for probes: no key, no data (``/metrics`` may need a token)."""
        return web.json_response({"status": "ok"})

    @app.page(OPEN_PATHS[1])
    async def readyz(view: faust.web.View, request: web.Request) -> web.Response:
        """Readiness for probes: Kafka and ClickHouse answer (503 names what does not)."""
        found = problems()
        if found:
            return answer(503, "not_ready", "; ".join(found), retry=1.0)
        return web.json_response({"status": "ready"})

    return api
