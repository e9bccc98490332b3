"""JSON answers, request limits and the /metrics token, the same on every HTTP server.

Every refusal is ``{"error": reason, "message": ...}`` so clients branch on ``error``;
nothing a server answers holds a traceback or a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from streams.core.keys import token_matches
from streams.core.limits import FailureLimiter, retry_after

HEADER_LIMITS: Final[dict[str, Any]] = {"max_line_size": 8190, "max_field_size": 8190,
                                         "max_headers": 64}
"""aiohttp's HTTP parser limits: a longer request line or header, or more headers, is a 400
before any handler runs."""
IDLE_SECONDS: Final = 75.0
"""aiohttp closes a connection that has not sent a whole request within this (from the
connect, and between keep-alive requests): a client trickling headers is cut off."""
CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="cxpulse"'}


def answer(status: int, reason: str, message: str, retry: float | None = None,
           headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON error: ``{"error": reason, "message": ...}``, with ``Retry-After`` when given."""
    extra = dict(headers or {})
    if retry is not None:
        extra["Retry-After"] = retry_after(retry)
    return web.Response(status=status, body=orjson.dumps({"error": reason, "message": message}),
                        content_type="application/json", headers=extra)


def lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def metrics_refusal(request: web.Request, token: str | None) -> web.Response | None:
    """None when /metrics may be served: no CX_METRICS_TOKEN, or ``Authorization: Bearer``
    with it (compared in constant time); else the 401."""
    if token is None or token_matches(lowered(request.headers), token):
        return None
    return answer(401, "unauthorized", "/metrics needs Authorization: Bearer with the "
                  "CX_METRICS_TOKEN", headers=CHALLENGE)


def blocked(seconds: float, what: str = "authentications") -> web.Response:
    """The 429 for an address the failure limiter holds back."""
    return answer(429, "auth_blocked", f"too many failed {what} from this address; wait "
                  "before retrying", retry=seconds)


def metrics_answer(request: web.Request, token: str | None, failures: FailureLimiter,
                   address: str, text: Callable[[], bytes]) -> web.Response:
    """/metrics of a server: blocked addresses wait, a wrong token counts as a failed login,
    else the Prometheus text ``text()`` gives."""
    held = failures.blocked(address)
    if held:
        return blocked(held)
    refusal = metrics_refusal(request, token)
    if refusal is not None:
        failures.fail(address)
        return refusal
    return web.Response(body=text(), headers={"Content-Type": CONTENT_TYPE_LATEST})


class QuietBadRequests(logging.Filter):
    """Drop aiohttp's traceback for a request it could not parse (a hostile header, a broken
    client): the client got its 400, and a flood of them must not flood the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, HttpProcessingError)
