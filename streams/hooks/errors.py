"""The one exception a webhook can raise: an HTTP status, a reason for machines, a message.

The collector turns it into its answer as is, so the message is written for the
sender's operator: it names the header or the payload field, and never a secret.
"""

from __future__ import annotations

from typing import Final

REASONS: Final = (
    "unknown_source",      # 404: no such source in /v1/hooks/{source}
    "missing_signature",   # 401: a signature header (or its timestamp or id) is absent
    "malformed_signature",  # 401: the header is there but not in the provider's format
    "bad_signature",       # 401: no match for the tenant's secret (or no secret configured)
    "stale_timestamp",     # 401: the signed timestamp is outside the tolerance (a replay?)
    "invalid_payload",     # 400: the body is not JSON, or not the provider's shape
)


class HookError(Exception):
    """Why a webhook was refused; nothing of it is mapped or written.

    ``log_message`` may say more than ``message`` for the collector's own log (for
    example that no secret is configured for the tenant), where the sender must not
    learn it: a missing secret answers exactly like a wrong one.
    """

    def __init__(self, status: int, reason: str, message: str, *,
                 log_message: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.log_message = log_message or message

    def __repr__(self) -> str:
        return f"HookError({self.status}, {self.reason!r}, {self.message!r})"


def unauthorized(reason: str, message: str, *, log_message: str | None = None) -> HookError:
    return HookError(401, reason, message, log_message=log_message)


def invalid(message: str) -> HookError:
    return HookError(400, "invalid_payload", message)
