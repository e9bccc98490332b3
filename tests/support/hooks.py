"""Webhook test material: the provider fixtures, secrets, signed deliveries, the validator.

Shared by the pure tests of ``streams.hooks`` and the collector's route tests, so both
send the same signed samples.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from streams.core.contract import (
    TOPIC_OF_TYPE,
    Rejection,
    Validator,
    ValidEvent,
)
from streams.hooks.mapping import load_mappings
from streams.hooks.signatures import signed_headers

FIXTURES = Path(__file__).resolve().parents[1] / "hooks" / "fixtures"
NOW = datetime.fromisoformat("2026-11-22T15:00:00+00:00").timestamp()
"""Delivery time of every fixture: after the latest of them, within the contract's age."""
TENANT = "acme"
SECRETS = {
    TENANT: {
        "typeform": "tf-7Qm2pX9vLr4Kd8Wz",
        "zendesk": "dGhpcy1pcy1hLXplbmRlc2stc2lnbmluZy1zZWNyZXQ",
        "formbricks": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "standard": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "delighted": "7b1e0d4c9a2f6e8b3d5a1c7f9e2b4d6a",
    },
    "globex": {"typeform": "tf-other-tenant-secret", "zendesk": "zd-other-tenant-secret"},
}
_VALIDATOR = Validator(max_event_bytes=65536, max_age_seconds=30 * 86400)
def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def source_of(name: str) -> str:
    return name.split("_", 1)[0]


def signed(source: str, body: bytes, *, tenant: str = TENANT, now: float = NOW,
           message_id: str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W") -> dict[str, str]:
    """The headers the provider would send with ``body`` for ``tenant``."""
    scheme = load_mappings()[source]["signature"]
    return signed_headers(scheme, body, SECRETS[tenant][source], now, message_id)


def validate(event: dict[str, Any], now: float = NOW) -> ValidEvent | Rejection:
    """The contract validator's verdict on one mapped event, whole."""
    return _VALIDATOR.check(orjson.dumps(event), TOPIC_OF_TYPE["feedback"], now)
