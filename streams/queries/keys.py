"""The key store: ``cx.api_keys``, read whole by every server, written by ``cxpulse keys``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from streams.core.keys import ApiKey
from streams.warehouse import Warehouse
from streams.warehouse.sql import sql_literal

KEY_COLUMNS: Final = ("id", "tenant", "scope", "name", "created_at", "revoked_at", "key_hash",
                      "version")


def _row(key: ApiKey) -> tuple[Any, ...]:
    return (key.id, key.tenant, key.scope, key.name, key.created_at, key.revoked_at,
            key.key_hash, 0 if key.revoked_at is None else 1)


def store_key(warehouse: Warehouse, key: ApiKey) -> None:
    warehouse.insert("api_keys", [_row(key)], KEY_COLUMNS)


def list_keys(warehouse: Warehouse, tenant: str | None = None) -> list[ApiKey]:
    """Every key (revoked ones too), oldest first; only ``tenant``'s when one is named."""
    where = f"WHERE tenant = {sql_literal(tenant)} " if tenant else ""
    rows = warehouse.query(
        "SELECT id, tenant, scope, name, toUnixTimestamp(created_at) AS created, "
        "toUnixTimestamp(revoked_at) AS revoked, key_hash "
        f"FROM {warehouse.database}.api_keys FINAL {where}ORDER BY created, id")
    return [ApiKey(row["id"], row["tenant"], row["scope"], row["name"], int(row["created"]),
                   row["key_hash"], None if row["revoked"] is None else int(row["revoked"]))
            for row in rows]


def revoke_key(warehouse: Warehouse, key_id: str, now: int) -> ApiKey | None:
    """Revoke a key by id; the key as revoked (or as it was, if already), None if unknown."""
    found = [key for key in list_keys(warehouse) if key.id == key_id]
    if not found:
        return None
    if found[0].revoked_at is not None:
        return found[0]
    revoked = replace(found[0], revoked_at=now)
    store_key(warehouse, revoked)
    return revoked
