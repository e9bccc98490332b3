"""One webhook delivery in, feedback events out: verify, then parse, then map. Pure.

The collector's route ``POST /v1/hooks/{source}?tenant=T`` calls ``receive`` with the raw
body and answers with what it returns (events for the contract validator) or with the
HookError's status. The signature is checked on the raw bytes before a byte is parsed, so
an unsigned body costs one HMAC and can reach no parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import orjson

from streams.core.contract import load_event_schemas
from streams.hooks.errors import HookError, invalid
from streams.hooks.mapping import load_mappings, map_payload
from streams.hooks.signatures import TOLERANCE_SECONDS, check_secret, verify

SOURCES: Final = ("typeform", "zendesk", "formbricks", "standard", "delighted")


def receive(source: str, tenant: str, headers: Mapping[str, str], body: bytes,
            secrets: Mapping[str, Mapping[str, str]], now: float,
            query: Mapping[str, str] | None = None,
            tolerance: float = TOLERANCE_SECONDS) -> list[dict[str, Any]]:
    """Contract events (dicts) of one delivery to ``/v1/hooks/{source}?tenant={tenant}``.

    Raises HookError: 404 for an unknown source, 401 for a missing, malformed, wrong or
    stale signature (and for a tenant without a secret for this source, answered exactly
    like a wrong one), 400 for a body that is not the provider's payload. An empty list is
    a delivery with nothing to record (another event type, no scored answer). ``query`` is
    accepted for the route's sake; no source authenticates through the URL.
    """
    mapping = load_mappings().get(source) if source in SOURCES else None
    if mapping is None:
        raise HookError(404, "unknown_source", f"unknown webhook source {source!r}; known: "
                        f"{', '.join(SOURCES)}")
    tenant_secrets = secrets.get(tenant) if isinstance(tenant, str) else None
    secret = tenant_secrets.get(source) if isinstance(tenant_secrets, Mapping) else None
    verify(mapping["signature"], headers, body, secret if isinstance(secret, str) else None,
           now, tolerance)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise invalid(f"the body is not valid UTF-8 JSON: {error}") from None
    return map_payload(mapping, payload, tenant)


def load_secrets(path: Path) -> dict[str, dict[str, str]]:
    """The webhook secrets file: JSON ``{tenant: {source: secret}}``.

    ValueError names the file and the entry that is wrong, never a secret's value.
    """
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except OSError as error:
        raise ValueError(f"{path}: cannot read the webhook secrets file: "
                         f"{error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a JSON file: {error.__class__.__name__} at "
                         f"{getattr(error, 'pos', '?')}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a JSON object {{tenant: {{source: secret}}}}")
    tenant_pattern = re.compile(load_event_schemas()["common"]["definitions"]["tenant"]
                                ["pattern"])
    schemes = {source: mapping["signature"] for source, mapping in load_mappings().items()}
    secrets: dict[str, dict[str, str]] = {}
    for tenant, entries in data.items():
        if not tenant_pattern.match(tenant):
            raise ValueError(f"{path}: tenant {tenant[:70]!r} is not a valid tenant name "
                             "(1-64 chars of a-z, 0-9, _ or -)")
        if not isinstance(entries, dict):
            raise ValueError(f"{path}: tenant {tenant!r} must map to {{source: secret}}")
        secrets[tenant] = {}
        for source, secret in entries.items():
            if source not in SOURCES:
                raise ValueError(f"{path}: tenant {tenant!r}: unknown source {source[:40]!r} "
                                 f"(known: {', '.join(SOURCES)})")
            if not isinstance(secret, str):
                raise ValueError(f"{path}: tenant {tenant!r}, source {source!r}: the secret "
                                 "must be a string")
            try:
                check_secret(schemes[source], secret)
            except ValueError as error:
                raise ValueError(f"{path}: tenant {tenant!r}, source {source!r}: {error}"
                                 ) from None
            secrets[tenant][source] = secret
    return secrets
