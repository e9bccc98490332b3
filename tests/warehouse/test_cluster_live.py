"""Cluster mode for real: ZooKeeper and two ClickHouse 18.16 shards (tests/support/cluster.py).

The generated DDL runs ON CLUSTER, the public names read and write every shard,
the generic translations (materialized view, view, ALTER, rebuild-and-swap) hold
up, and workers connected to different shards score exactly as on one node.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.warehouse import Warehouse, connect
from streams.warehouse.cluster import ClusterDDL
from streams.warehouse.migrate import migrate, migration_files, plan
from tests.cli.test_cli import cxpulse, one_line_error
from tests.queries.test_scoring import assert_exact, feed, traffic
from tests.support.cluster import ClickHouseCluster
from tests.support.services import produce, table_count, wait_balanced, wait_until, worker_env

pytestmark = pytest.mark.integration

NAME = "cxpulse_test"
_databases = itertools.count(1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseCluster]:
    running = ClickHouseCluster(tmp_path_factory.mktemp("cluster"), NAME)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def urls(cluster: ClickHouseCluster) -> list[str]:
    """A database of this test's own on the cluster: one URL per shard."""
    return cluster.urls(f"cluster_{next(_databases)}")


def local_count(warehouse: Warehouse, table: str) -> int:
    return int(warehouse.query(
        f"SELECT count() AS n FROM {warehouse.database}.{table}_local")[0]["n"])


def test_migrations_create_replicated_sharded_tables_on_every_node(urls: list[str]) -> None:
    first, second = (connect(url) for url in urls)
    versions = [version for version, _ in migration_files()]
    assert migrate(first, NAME) == versions
    assert migrate(second, NAME) == []  # recorded once, for the whole cluster
    for node in (first, second):
        engines = {row["name"]: row["engine"] for row in node.query(
            f"SELECT name, engine FROM system.tables WHERE database = '{node.database}'")}
        assert engines["score_minutes"] == "Distributed"
        assert engines["score_minutes_local"] == "ReplicatedReplacingMergeTree"
        odd = {name: engine for name, engine in engines.items()
               if engine not in ("Distributed", "View") and not engine.startswith("Replicated")}
        assert not odd, odd
    # Written through one node, read through the other; duplicates collapse on their shard.
    columns = ("received_at", "reason", "message", "topic", "partition", "offset", "payload")
    rows = [(int(time.time()), "bad_json", "m", "cx.feedback", offset % 4, offset, "{")
            for offset in range(200)]
    first.insert("deadletters", rows, columns)
    first.insert("deadletters", rows[:50], columns)
    assert table_count(second, "deadletters") == 200
    shards = [local_count(node, "deadletters") for node in (first, second)]
    assert sum(shards) >= 200 and min(shards) > 40, shards


def test_views_alters_and_a_table_rebuild_run_on_the_cluster(urls: list[str]) -> None:
    first, second = (connect(url) for url in urls)
    migrate(first, NAME)
    db, ddl = first.database, ClusterDDL(NAME)
    for _, statements in plan(db):
        for statement in statements:
            ddl.translate(statement)  # the schema files' tables, already on the cluster
    steps = [
        f"CREATE TABLE IF NOT EXISTS {db}.per_tenant (tenant LowCardinality(String), n UInt64) "
        "ENGINE = SummingMergeTree() ORDER BY tenant",
        f"ALTER TABLE {db}.per_tenant ADD COLUMN failures UInt64 DEFAULT 0",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.per_tenant_mv TO {db}.per_tenant AS "
        f"SELECT tenant, count() AS n, countIf(outcome = 'failure') AS failures "
        f"FROM {db}.interactions GROUP BY tenant",
        f"CREATE VIEW IF NOT EXISTS {db}.tenant_counts AS SELECT tenant, sum(n) AS n "
        f"FROM {db}.per_tenant GROUP BY tenant",
    ]
    for statement in steps:
        for generated in ddl.translate(statement):
            first.execute(generated)
    columns = ("event_id", "tenant", "channel", "touchpoint", "occurred_at", "customer_id",
               "ingested_at")
    rows = [(f"e{i}", f"tenant-{i % 3}", "web", "checkout", 0, "c", 0) for i in range(300)]
    first.insert("interactions", rows, columns)

    def counts(node: Warehouse) -> dict[str, int]:
        return {row["tenant"]: int(row["n"]) for row in node.query(
            f"SELECT tenant, n FROM {db}.tenant_counts ORDER BY tenant")}

    want = {f"tenant-{i}": 100 for i in range(3)}
    assert counts(second) == want
    # Rebuild the rollup with a new shape and swap it in, as a data migration would.
    rebuild = [
        f"CREATE TABLE IF NOT EXISTS {db}.per_tenant_v2 (tenant LowCardinality(String), n UInt64, "
        "failures UInt64) ENGINE = SummingMergeTree() ORDER BY tenant",
        f"INSERT INTO {db}.per_tenant_v2 SELECT tenant, sum(n), sum(failures) "
        f"FROM {db}.per_tenant GROUP BY tenant",
        f"RENAME TABLE {db}.per_tenant TO {db}.per_tenant_old, {db}.per_tenant_v2 TO "
        f"{db}.per_tenant",
        f"DROP TABLE IF EXISTS {db}.per_tenant_old",
    ]
    for statement in rebuild:
        for generated in ddl.translate(statement):
            first.execute(generated)
    for node in (first, second):
        assert counts(node) == want
        left = {row["name"] for row in node.query(
            f"SELECT name FROM system.tables WHERE database = '{db}' AND name LIKE 'per_tenant%'")}
        assert left == {"per_tenant", "per_tenant_local", "per_tenant_mv"}, left
    # The materialized view now fills the rebuilt table's shards.
    first.insert("interactions", [(f"x{i}", "tenant-0", "web", "checkout", 0, "c", 0)
                                  for i in range(30)], columns)
    assert counts(second)["tenant-0"] == 130


def test_a_misconfigured_cluster_connection_is_one_clear_line(
        cluster: ClickHouseCluster, urls: list[str]) -> None:
    unknown = cxpulse("migrate", env={"CX_CLICKHOUSE_URL": urls[0],
                                      "CX_CLICKHOUSE_CLUSTER": "nosuch"})
    one_line_error(unknown, "'nosuch'", "<remote_servers>", NAME)
    plain = cxpulse("migrate", env={"CX_CLICKHOUSE_URL": urls[0].split("?")[0],
                                    "CX_CLICKHOUSE_CLUSTER": NAME})
    one_line_error(plain, "insert_distributed_sync=1", "distributed_product_mode=global",
                   "CX_CLICKHOUSE_URL")


def test_workers_on_different_shards_score_exactly(
        urls: list[str], kafka: str, start_worker, tmp_path: Path) -> None:
    rng = random.Random(8)
    now = time.time()
    events = traffic(now)
    end_ms = int(now * 1000) // 60_000 * 60_000
    env = worker_env(kafka, urls[0], tmp_path) | {"CX_CLICKHOUSE_CLUSTER": NAME}
    workers = [start_worker(env, "a"), start_worker(env | {"CX_CLICKHOUSE_URL": urls[1]}, "b")]
    wait_balanced(workers, partitions=3 * 4)
    now_batch, late_batch = feed(kafka, events, rng)
    produce(kafka, now_batch)
    produce(kafka, late_batch)
    unique = {event["event_id"] for event in events}
    reader = connect(urls[1])
    wait_until(lambda: sum(table_count(reader, table) for table in
                           ("interactions", "feedback", "followups")) == len(unique), 180,
               f"{len(unique)} unique events on the cluster")
    assert_exact(urls[1], events, end_ms)
    for table in ("feedback", "score_facts", "score_minutes"):
        assert min(local_count(connect(url), table) for url in urls) > 0, table


def test_forget_removes_a_customer_from_every_shard(urls: list[str], tmp_path: Path) -> None:
    from streams.tools.load import load
    from tests.cli.test_forget import events
    from tests.support.databases import string_values

    first = connect(urls[0])
    migrate(first, NAME)
    now = time.time()
    target = f"cust-{time.monotonic_ns()}"
    mine = [event | {"event_id": f"{event['event_id']}-{n}", "feedback_id":
                     f"{event['feedback_id']}-{n}"} if "feedback_id" in event
            else event | {"event_id": f"{event['event_id']}-{n}"}
            for n in range(4) for event in events(target, now)]
    load(first, mine + events("cust-other", now), deadline_ms=48 * 3_600_000)

    def shards_naming(customer: str) -> list[set[str]]:
        return [{table for table, values in string_values(connect(url)).items()
                 if table.endswith("_local") and any(customer.encode() in v for v in values)}
                for url in urls]

    assert all(shards_naming(target))  # on both shards
    env = {"CX_CLICKHOUSE_URL": urls[1], "CX_CLICKHOUSE_CLUSTER": NAME,
           "CX_DATA_DIR": str(tmp_path), "CX_ERASURE_SALT": "salt"}
    done = cxpulse("forget", "--tenant", "acme-shop", "--customer", target, "--json", env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert shards_naming(target) == [set(), set()]
    assert any(shards_naming("cust-other"))
    verified = cxpulse("verify", env=env)
    assert verified.returncode == 0, verified.stdout.decode()
    again = cxpulse("forget", "--tenant", "acme-shop", "--customer", target, "--json", env=env)
    assert again.returncode == 0 and b'"rows": 0' in again.stdout


def test_retention_forgets_old_rows_on_every_shard(urls: list[str]) -> None:
    from streams.core.cases import CASE_COLUMNS
    from streams.core.retention import days_per_table
    from streams.core.rows import COLUMNS
    from streams.queries.retention import prune
    from streams.queries.status import tables
    from tests.queries.test_retention import NOW_S, OLD, YOUNG, _case

    first, second = (connect(url) for url in urls)
    migrate(first, NAME)
    first.insert("deadletters", [(OLD if i % 2 else YOUNG, "invalid", "m", "cx.feedback", i % 4,
                                  i, b"x") for i in range(40)], COLUMNS["deadletters"])
    first.insert("followup_cases", [_case(f"f{i}", OLD, met=i % 2 == 1, version=i % 2 * 5)
                                    for i in range(40)], CASE_COLUMNS)
    columns = ("event_id", "tenant", "channel", "touchpoint", "occurred_at", "kind")
    first.insert("interactions", [(f"e{i}", "t", "web", "c", OLD if i % 2 else YOUNG, "visit")
                                  for i in range(40)], columns)
    assert sum(local_count(node, "deadletters") > 0 for node in (first, second)) == 2
    assert sum(local_count(node, "interactions") > 0 for node in (first, second)) == 2
    done = prune(first, days_per_table({}, 100), now_s=NOW_S, cluster=NAME)
    assert done.rows == {"deadletters": 20, "followup_cases": 20}
    assert done.months["interactions"] == [time.gmtime(OLD).tm_year * 100
                                           + time.gmtime(OLD).tm_mon]
    assert table_count(second, "deadletters") == 20 and table_count(second, "followup_cases") == 20
    assert table_count(second, "interactions") == 20  # the old month gone from both shards
    assert prune(second, days_per_table({}, None), now_s=NOW_S, cluster=NAME).rows == {}
    # Status on a cluster: the rows of this node's shard, the oldest row of every shard.
    shown = {row["table"]: row for row in tables(second)}
    assert shown["deadletters"]["rows"] == local_count(second, "deadletters") > 0
    assert shown["followup_cases"]["oldest"] == OLD


def test_rows_written_during_a_rebuild_reach_the_new_table_on_the_cluster(
        urls: list[str]) -> None:
    """006 rebuilds ``interactions`` while a worker keeps writing through the public name: the
    rows it wrote to the old shards after their copy are copied again once the swap is done."""
    first, second = (connect(url) for url in urls)
    migrate(first, NAME, until="005_followup_cases")
    columns = ("event_id", "tenant", "channel", "touchpoint", "occurred_at", "customer_id",
               "ingested_at")
    now = int(time.time())
    first.insert("interactions", [(f"e{i}", "acme", "web", "checkout",
                                   now - (i % 3) * 31 * 86400, "c", now) for i in range(300)],
                 columns)
    late: list[tuple] = []

    def worker_writes(version: str, step: int, chunk: str) -> None:
        if version == "006_partitions" and chunk and not late:  # after the first month copied
            late.extend((f"late{i}", "acme", "web", "checkout", now - (i % 3) * 31 * 86400,
                         "c", now) for i in range(30))
            first.insert("interactions", late, columns)

    migrate(first, NAME, until="006_partitions", after=worker_writes)
    assert late and table_count(second, "interactions") == 330
    assert {row["engine"] for row in second.query(
        f"SELECT engine FROM system.tables WHERE database = '{second.database}' "
        "AND name LIKE 'interactions%'")} == {"Distributed", "ReplicatedReplacingMergeTree"}
