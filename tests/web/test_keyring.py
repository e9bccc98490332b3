"""The key ring follows cx.api_keys and keeps its last good keys while ClickHouse is away."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streams.collect.metrics import CollectorMetrics
from streams.core.keys import new_key
from streams.queries.keys import list_keys, revoke_key, store_key
from streams.warehouse import Warehouse, connect
from streams.warehouse.migrate import migrate
from streams.web.keyring import KeyRefresher


def test_refresh_follows_the_store_and_survives_an_outage(
        server_warehouse: Warehouse, server_url: str, caplog: pytest.LogCaptureFixture) -> None:
    target = {"url": server_url}

    def load() -> list:
        warehouse = connect(target["url"])
        try:
            return list_keys(warehouse)
        finally:
            warehouse.close()

    metrics = CollectorMetrics()
    refresher = KeyRefresher(load, every=0.1, keys=metrics.keys,
                             errors=metrics.key_refresh_errors)
    assert not asyncio.run(refresher.refresh()) and not refresher.loaded  # no table yet
    migrate(server_warehouse)
    record, text = new_key("acme-shop", "write", "w", 0)
    store_key(server_warehouse, record)
    assert asyncio.run(refresher.refresh()) and refresher.loaded
    assert refresher.ring.authenticate(text) == record
    target["url"] = server_url.rsplit("/", 1)[0] + "/no_such_database"
    with caplog.at_level(logging.WARNING, logger="streams.web.keyring"):
        for _ in range(3):
            assert not asyncio.run(refresher.refresh())
    assert refresher.ring.authenticate(text) == record  # the last good ring stays
    assert len([r for r in caplog.records if "keeping the last 1 keys" in r.message]) == 1
    assert text not in caplog.text
    target["url"] = server_url
    revoke_key(server_warehouse, record.id, 10)
    assert asyncio.run(refresher.refresh())
    assert refresher.ring.authenticate(text) is None
    assert metrics.key_refresh_errors._value.get() == 4
