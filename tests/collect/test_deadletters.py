"""Dead-letter rows reach ClickHouse in the background: kept while it is away, bounded."""

from __future__ import annotations

import asyncio

from streams.collect.deadletters import DeadletterWriter
from streams.collect.metrics import CollectorMetrics
from streams.core.contract import Rejection
from streams.core.rows import Record, deadletter_row
from streams.warehouse import LazyWarehouse, Warehouse
from streams.warehouse.migrate import migrate


def rows(count: int) -> list[tuple]:
    return [deadletter_row(Rejection("schema_violation", f"item {i}"),
                           Record("collector", i, 42), b"{}", 1_790_000_000)
            for i in range(count)]


def test_rows_wait_while_clickhouse_is_away_then_land_once(
        server_warehouse: Warehouse, server_url: str) -> None:
    metrics = CollectorMetrics()
    writer = DeadletterWriter(LazyWarehouse(server_url), metrics)

    async def scenario() -> int:
        task = asyncio.create_task(writer.run())
        writer.add(rows(3))  # the database has no tables yet: every insert fails
        await asyncio.sleep(1.0)
        kept = len(writer)
        await asyncio.to_thread(migrate, server_warehouse)
        for _ in range(100):
            if not len(writer):
                break
            await asyncio.sleep(0.1)
        task.cancel()
        return kept

    assert asyncio.run(scenario()) == 3
    assert len(writer) == 0
    stored = server_warehouse.query(f"SELECT partition, offset FROM "
                                    f"{server_warehouse.database}.deadletters FINAL")
    assert sorted((r["partition"], r["offset"]) for r in stored) == [(0, 42), (1, 42), (2, 42)]
    assert metrics.deadletter_rows.labels("written")._value.get() == 3


def test_a_full_backlog_drops_its_oldest_rows_and_counts_them(server_url: str) -> None:
    metrics = CollectorMetrics()

    async def scenario() -> DeadletterWriter:
        writer = DeadletterWriter(LazyWarehouse(server_url), metrics, max_rows=3)
        writer.add(rows(5))
        return writer

    writer = asyncio.run(scenario())
    assert len(writer) == 3
    assert metrics.deadletter_rows.labels("dropped")._value.get() == 2
