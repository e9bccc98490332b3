"""The key store on both engines: only hashes stored, revocation wins whatever the order."""

from __future__ import annotations

from dataclasses import replace

from streams.core.keys import KeyRing, new_key, split_key
from streams.queries.keys import list_keys, revoke_key, store_key
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate


def test_keys_round_trip_and_revoke(warehouse: Warehouse) -> None:
    migrate(warehouse)
    warehouse.execute(f"TRUNCATE TABLE {warehouse.database}.api_keys")
    acme, acme_text = new_key("acme-shop", "write", "web widget", 1_700_000_000)
    globex, _ = new_key("globex", "read", "", 1_700_000_100)
    store_key(warehouse, acme)
    store_key(warehouse, globex)
    assert list_keys(warehouse) == [acme, globex]
    assert list_keys(warehouse, "globex") == [globex]
    stored = warehouse.query(f"SELECT * FROM {warehouse.database}.api_keys")
    assert split_key(acme_text)[1] not in repr(stored)  # the secret is never stored

    assert KeyRing(list_keys(warehouse)).authenticate(acme_text) == acme
    revoked = revoke_key(warehouse, acme.id, 1_700_000_200)
    assert revoked == replace(acme, revoked_at=1_700_000_200)
    assert KeyRing(list_keys(warehouse)).authenticate(acme_text) is None
    # Writing the live row again (a late duplicate) does not bring the key back.
    store_key(warehouse, acme)
    assert list_keys(warehouse, "acme-shop")[0].revoked_at == 1_700_000_200
    assert revoke_key(warehouse, acme.id, 1_700_000_300) == revoked
    assert revoke_key(warehouse, "000000000000", 1) is None
