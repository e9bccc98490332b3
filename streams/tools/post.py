"""Sending events to a collector (``cxpulse collect``) over HTTP: what the demo and
``cxpulse bench collect`` share.

One keep-alive aiohttp session per sender, JSON array bodies, the key as a Bearer
token. ``deliver`` retries what the collector asks to be retried (503, 429, after
``Retry-After``): its 200 means Kafka has the events, and event ids make a retry safe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

import aiohttp
import orjson

EVENTS_PATH: Final = "/v1/events"
RETRIED: Final = frozenset({429, 503})
MAX_WAIT: Final = 5.0
"""Longest pause between retries, whatever ``Retry-After`` says."""


class Answer(NamedTuple):
    """A collector's answer to one request."""

    status: int
    accepted: int
    rejected: list[dict[str, Any]]
    retry_after: float | None
    error: str | None
    """The ``error`` reason of a non-200 answer (``rate_limited``, ``kafka_unavailable``...)."""


def key_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def session(connections: int, timeout: float = 30.0) -> aiohttp.ClientSession:
    """A keep-alive session holding at most ``connections`` connections to the collector."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, ttl_dns_cache=None),
        timeout=aiohttp.ClientTimeout(total=timeout))


async def post(client: aiohttp.ClientSession, url: str, body: bytes,
               headers: dict[str, str]) -> Answer:
    """POST one body to ``url`` (``.../v1/events``) and read the collector's answer."""
    async with client.post(url, data=body, headers=headers) as response:
        payload = await response.read()
        retry = response.headers.get("Retry-After")
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    return Answer(response.status, int(data.get("accepted", 0)), data.get("rejected", []),
                  float(retry) if retry else None, data.get("error"))


async def deliver(client: aiohttp.ClientSession, base_url: str, key: str,
                  events: Sequence[dict[str, Any]], attempts: int = 5) -> Answer:
    """Send ``events`` as one JSON array; retry 503 and 429 as told. The last answer."""
    body = orjson.dumps(list(events))
    url = base_url.rstrip("/") + EVENTS_PATH
    answer = Answer(0, 0, [], None, "not sent")
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(min(answer.retry_after or 1.0, MAX_WAIT))
        try:
            answer = await post(client, url, body, key_headers(key))
        except (aiohttp.ClientError, TimeoutError) as error:  # retried like a 503
            answer = Answer(0, 0, [], 1.0, f"{type(error).__name__}: {error}")
        if answer.status and answer.status not in RETRIED:
            break
    return answer
