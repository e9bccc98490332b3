"""Where ``cxpulse top`` reads: ClickHouse through ``streams.queries``, or any worker's
HTTP API (``/v1/scores``, ``/v1/alerts``, ``/v1/incidents``). Both give the same rows, so one
view fits both.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from streams.cli.screen import TREND_BUCKETS, TREND_STEP, View
from streams.core.scores import DEFAULT_WEIGHTS
from streams.core.stats import ALL, MINUTE_MS
from streams.core.units import format_time, format_window, parse_duration
from streams.queries.alerting import alert_rows, history
from streams.queries.incidents import listing
from streams.queries.windows import window_scores
from streams.warehouse import Warehouse

Row = dict[str, Any]


class Source(Protocol):
    description: str

    def scores(self, *, end_ms: int, window_ms: int, tenant: str | None) -> list[Row]:
        """Rows of (tenant, channel, ``*``) and (tenant, ``*``, ``*``), with intervals
        and counts."""
        ...

    def firing(self) -> list[Row]:
        """The alerts open now, as ``cxpulse alerts --firing --json``."""
        ...

    def open_incidents(self) -> list[Row]:
        """The incidents open now, as ``cxpulse incidents --open --json``."""
        ...


class WarehouseSource:
    """ClickHouse (server or embedded), read through ``streams.queries``."""

    def __init__(self, warehouse: Warehouse, deadline_ms: int,
                 weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> None:
        self.warehouse, self.deadline_ms, self.weights = warehouse, deadline_ms, weights
        self.description = warehouse.description

    def scores(self, *, end_ms: int, window_ms: int, tenant: str | None) -> list[Row]:
        return window_scores(self.warehouse, end_ms=end_ms, window_ms=window_ms,
                             deadline_ms=self.deadline_ms, tenant=tenant, touchpoint=ALL,
                             weights=self.weights, detail=True)

    def firing(self) -> list[Row]:
        return alert_rows(history(self.warehouse, firing_only=True))

    def open_incidents(self) -> list[Row]:
        return listing(self.warehouse, open_only=True)


class WorkerSource:
    """A worker's HTTP API: any worker answers, the state is in ClickHouse. With auth on
    (CX_API_AUTH) it needs a read key, sent as ``Authorization: Bearer`` and never shown."""

    def __init__(self, url: str, timeout: float = 10.0, key: str | None = None) -> None:
        self.url, self.timeout = url.rstrip("/"), timeout
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.description = f"worker {self.url}"

    def get(self, path: str, params: Mapping[str, str]) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            request = urllib.request.Request(url, headers=self._headers)
            with urllib.request.urlopen(request, timeout=self.timeout) as page:
                return json.loads(page.read())
        except urllib.error.HTTPError as error:
            try:
                answer = json.loads(error.read())
                said = f"{answer['error']}: {answer['message']}"
            except (ValueError, KeyError, TypeError):
                said = str(error.reason)
            if error.code in (401, 403):
                said += (" (give a read key of the tenant, or an admin key: --key or CX_API_KEY)"
                         if self._headers else " (give a read key: --key or CX_API_KEY)")
            raise OSError(f"worker {self.url} answered {error.code} to {path}: {said}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise OSError(f"cannot reach the worker at {self.url} (--worker): {reason}") from None

    def scores(self, *, end_ms: int, window_ms: int, tenant: str | None) -> list[Row]:
        params = {"window": format_window(window_ms), "at": format_time(end_ms, millis=False),
                  "touchpoint": ALL, "detail": "1"}
        return self.get("/v1/scores", params | ({"tenant": tenant} if tenant else {}))

    def firing(self) -> list[Row]:
        return self.get("/v1/alerts", {"firing": "1"})

    def open_incidents(self) -> list[Row]:
        return self.get("/v1/incidents", {"open": "1"})


def fetch(source: Source, *, window: str, tenant: str | None,
          now_ms: int | None = None) -> View:
    """Scores of every tenant in the window ending with the current minute, the
    trend of ``tenant`` (or the first tenant), the open incidents and the firing alerts."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    end_ms = now_ms - now_ms % MINUTE_MS + MINUTE_MS  # the current minute counts
    window_ms = int(parse_duration(window) * 1000)
    rows = source.scores(end_ms=end_ms, window_ms=window_ms, tenant=None)
    tenants = sorted({row["tenant"] for row in rows})
    chosen = tenant if tenant in tenants else (tenants[0] if tenants else None)
    trend: dict[str, list[float | None]] = {}
    if chosen is not None:
        step_ms = int(parse_duration(TREND_STEP) * 1000)
        for back in range(TREND_BUCKETS - 1, -1, -1):
            bucket = {row["channel"]: row["health"] for row in source.scores(
                end_ms=end_ms - back * step_ms, window_ms=step_ms, tenant=chosen)}
            for channel in {row["channel"] for row in rows if row["tenant"] == chosen}:
                trend.setdefault(channel, []).append(bucket.get(channel))
    return View(window=window, end=format_time(end_ms, millis=False), rows=rows, trend=trend,
                alerts=source.firing(), incidents=source.open_incidents())
