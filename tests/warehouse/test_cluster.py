"""The cluster DDL generated from the schema files, checked as text (pure, no server).

tests/warehouse/test_cluster_live.py runs the same DDL on a real two-shard cluster.
"""

from __future__ import annotations

import re

import pytest

from streams.config import ConfigError, Settings
from streams.warehouse.cluster import ClusterDDL, ClusterError, sharding_key, split_top_level
from streams.warehouse.migrate import BOOKKEEPING, migration_files, plan, render
from tests.cli.test_cli import cxpulse

CLUSTER = "cx_cluster"
ON = f"ON CLUSTER {CLUSTER}"
TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)\s*(\(.*\))\s*ENGINE = (\w+)(\(.*?\))?"
                   r"(\s.*)$", re.DOTALL)


def pairs() -> list[object]:
    """(step, single-node statement, its cluster statements) for every statement of every file."""
    ddl = ClusterDDL(CLUSTER)
    return [pytest.param(step, statement, ddl.translate(statement), id=f"{step}-{index}")
            for step, statements in plan("cx") for index, statement in enumerate(statements)]


def test_every_schema_file_has_a_cluster_form() -> None:
    steps = [step for step, _ in plan("cx", CLUSTER)]
    assert steps == [BOOKKEEPING, *(version for version, _ in migration_files())]
    assert len(steps) > 5


@pytest.mark.parametrize("step, statement, cluster", pairs())
def test_each_table_becomes_replicated_local_plus_distributed(
        step: str, statement: str, cluster: list[str]) -> None:
    for generated in cluster:
        if not generated.startswith("INSERT"):
            assert ON in generated, generated
    table = TABLE.match(statement)
    if table is None:
        return
    db, name, columns, engine, arguments, rest = table.groups()
    local, distributed = cluster
    # The local table: same columns, same sorting/partitioning/TTL clauses, replicated engine.
    assert local.startswith(f"CREATE TABLE IF NOT EXISTS {db}.{name}_local {ON}\n{columns}\n")
    path = f"'/clickhouse/tables/{{shard}}/{db}/{name}_local', '{{replica}}'"
    inner = (arguments or "()")[1:-1]
    assert local.endswith(f"ENGINE = Replicated{engine}({', '.join(filter(None, [path, inner]))})"
                          f"{rest}")
    assert "ORDER BY" in rest
    # The public name reads and writes every shard, sharded by the sorting key.
    order_by = re.search(r"ORDER BY (.*)", rest)[1].strip()
    assert distributed == (
        f"CREATE TABLE IF NOT EXISTS {db}.{name} {ON} AS {db}.{name}_local\n"
        f"ENGINE = Distributed('{CLUSTER}', '{db}', '{name}_local', {sharding_key(order_by)})")


def test_tables_of_the_schema_files_are_all_distributed() -> None:
    cluster = [s for _, statements in plan("cx", CLUSTER) for s in statements]
    single = [s for _, statements in plan("cx") for s in statements]
    created = {m[1] for s in single if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\S+)", s))}
    distributed = {m[1] for s in cluster
                   if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\S+) .*Distributed", s, re.S))}
    # Tables rebuilt under a temporary name (006) are distributed while they exist.
    dropped = {m[1] for s in cluster
               if (m := re.match(r"DROP TABLE (?:IF EXISTS )?(\S+)", s))}
    assert created <= distributed and distributed - created <= dropped
    assert "cx.score_minutes" in created and "cx.score_days" in created
    assert not any(re.search(r"ENGINE = (?!Replicated|Distributed)", s) for s in cluster)


def test_partitioning_ttl_and_settings_are_kept_and_the_key_hashes_the_sorting_key() -> None:
    local, distributed = ClusterDDL(CLUSTER).translate(
        "CREATE TABLE cx.hours (tenant String, hour DateTime, n UInt64, v UInt64)\n"
        "ENGINE = ReplacingMergeTree(v) PARTITION BY toYYYYMM(hour)\n"
        "ORDER BY (tenant, hour) TTL hour + INTERVAL 30 DAY SETTINGS index_granularity = 8192")
    assert local == (
        f"CREATE TABLE cx.hours_local {ON}\n(tenant String, hour DateTime, n UInt64, v UInt64)\n"
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/cx/hours_local', "
        "'{replica}', v) PARTITION BY toYYYYMM(hour)\n"
        "ORDER BY (tenant, hour) TTL hour + INTERVAL 30 DAY SETTINGS index_granularity = 8192")
    assert distributed.endswith("Distributed('cx_cluster', 'cx', 'hours_local', "
                                "cityHash64(tenant, hour))")
    assert sharding_key("tuple()") == "rand()"
    assert sharding_key("toStartOfDay(at)") == "cityHash64(toStartOfDay(at))"


def test_views_materialized_views_and_data_migrations() -> None:
    ddl = ClusterDDL(CLUSTER)
    ddl.translate("CREATE TABLE cx.minutes (k String, n UInt64) ENGINE = MergeTree() ORDER BY k")
    ddl.translate("CREATE TABLE cx.days (k String, n UInt64) ENGINE = SummingMergeTree(n) "
                  "ORDER BY k")
    # A plain view reads the public (Distributed) tables, on every node.
    assert ddl.translate("CREATE VIEW IF NOT EXISTS cx.v AS SELECT k FROM cx.days") == [
        f"CREATE VIEW IF NOT EXISTS cx.v {ON} AS SELECT k FROM cx.days"]
    # A materialized view watches and fills each shard's local tables.
    assert ddl.translate(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS cx.days_mv TO cx.days AS SELECT k, sum(n) AS n "
        "FROM cx.minutes GROUP BY k") == [
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS cx.days_mv {ON} TO cx.days_local "
        "AS SELECT k, sum(n) AS n FROM cx.minutes_local GROUP BY k"]
    # A data migration runs once, through the Distributed tables.
    insert = "INSERT INTO cx.days (k, n) SELECT k, sum(n) FROM cx.minutes GROUP BY k"
    assert ddl.translate(insert) == [insert]
    with pytest.raises(ClusterError, match="needs TO"):
        ddl.translate("CREATE MATERIALIZED VIEW cx.m ENGINE = SummingMergeTree() ORDER BY k "
                      "AS SELECT k, count() AS n FROM cx.minutes GROUP BY k")


def test_alter_rename_and_drop_keep_local_and_distributed_tables_in_step() -> None:
    ddl = ClusterDDL(CLUSTER)
    ddl.translate("CREATE TABLE cx.t (k String) ENGINE = MergeTree() ORDER BY k")
    ddl.translate("CREATE TABLE cx.t_new (k String) ENGINE = ReplacingMergeTree() ORDER BY (k)")
    assert ddl.translate(
        "ALTER TABLE cx.t ADD COLUMN n UInt64 DEFAULT toUInt64(length(k)), "
        "MODIFY TTL now() + INTERVAL 1 DAY, DROP COLUMN old") == [
        f"ALTER TABLE cx.t_local {ON} ADD COLUMN n UInt64 DEFAULT toUInt64(length(k)), "
        "MODIFY TTL now() + INTERVAL 1 DAY, DROP COLUMN old",
        f"DROP TABLE IF EXISTS cx.t {ON}",
        f"CREATE TABLE IF NOT EXISTS cx.t {ON} AS cx.t_local\n"
        f"ENGINE = Distributed('{CLUSTER}', 'cx', 't_local', cityHash64(k))"]
    assert ddl.translate("ALTER TABLE cx.t MODIFY TTL now()") == [
        f"ALTER TABLE cx.t_local {ON} MODIFY TTL now()"]
    # The swap of a rebuilt table: locals renamed, each Distributed re-created on its local.
    assert ddl.translate("RENAME TABLE cx.t TO cx.t_old, cx.t_new TO cx.t") == [
        f"RENAME TABLE cx.t_local TO cx.t_old_local, cx.t_new_local TO cx.t_local {ON}",
        f"DROP TABLE IF EXISTS cx.t {ON}",
        f"DROP TABLE IF EXISTS cx.t_new {ON}",
        f"CREATE TABLE IF NOT EXISTS cx.t_old {ON} AS cx.t_old_local\n"
        f"ENGINE = Distributed('{CLUSTER}', 'cx', 't_old_local', cityHash64(k))",
        f"CREATE TABLE IF NOT EXISTS cx.t {ON} AS cx.t_local\n"
        f"ENGINE = Distributed('{CLUSTER}', 'cx', 't_local', cityHash64(k))"]
    assert set(ddl.sharded) == {"cx.t", "cx.t_old"}
    assert ddl.translate("DROP TABLE IF EXISTS cx.t_old") == [
        f"DROP TABLE IF EXISTS cx.t_old {ON}", f"DROP TABLE IF EXISTS cx.t_old_local {ON}"]
    assert ddl.translate("DROP TABLE cx.some_view") == [f"DROP TABLE cx.some_view {ON}"]
    with pytest.raises(ClusterError, match=r"cx\.t_old: not a MergeTree table"):
        ddl.translate("ALTER TABLE cx.t_old ADD COLUMN x UInt8")


@pytest.mark.parametrize("statement, message", [
    ("CREATE TABLE cx.m (k String) ENGINE = Memory", "engine Memory has no replicated form"),
    ("CREATE TABLE cx.m AS cx.other", "give the column list"),
    ("CREATE TABLE cx.m (d Date, k String) ENGINE = MergeTree(d, (k), 8192)", "needs ORDER BY"),
    ("OPTIMIZE TABLE cx.m FINAL", "no cluster form for this statement"),
    ("CREATE TABLE m (k String) ENGINE = MergeTree() ORDER BY k", "no cluster form"),
])
def test_what_has_no_faithful_cluster_form_is_refused_by_name(statement: str, message: str
                                                               ) -> None:
    with pytest.raises(ClusterError, match=re.escape(message)):
        ClusterDDL(CLUSTER).translate(statement)


def test_split_top_level_respects_parentheses_and_quotes() -> None:
    assert split_top_level("ADD COLUMN a Tuple(x, y) DEFAULT (1, 'a,b'), DROP COLUMN b") == [
        "ADD COLUMN a Tuple(x, y) DEFAULT (1, 'a,b')", "DROP COLUMN b"]


def test_the_cluster_is_a_setting_with_a_checked_name() -> None:
    assert Settings.from_env({}).clickhouse_cluster is None
    assert Settings.from_env({"CX_CLICKHOUSE_CLUSTER": "prod_2x2"}).clickhouse_cluster == "prod_2x2"
    with pytest.raises(ConfigError, match="CX_CLICKHOUSE_CLUSTER"):
        Settings.from_env({"CX_CLICKHOUSE_CLUSTER": "prod; DROP TABLE x"})


def test_migrate_print_shows_the_ddl_for_the_configuration_without_a_server() -> None:
    url = "clickhouse://cxpulse:secret@nowhere.invalid:9000/analytics"
    single = cxpulse("migrate", "--print", env={"CX_CLICKHOUSE_URL": url})
    assert single.returncode == 0, single.stderr
    assert single.stdout.decode() == render("analytics")
    assert "ON CLUSTER" not in single.stdout.decode()
    cluster = cxpulse("migrate", "--print",
                      env={"CX_CLICKHOUSE_URL": url, "CX_CLICKHOUSE_CLUSTER": CLUSTER})
    text = cluster.stdout.decode()
    assert cluster.returncode == 0 and text == render("analytics", CLUSTER)
    assert "-- 003_scores\n" in text and "analytics.score_minutes_local" in text
    assert "secret" not in text


def test_the_revisions_rebuild_keeps_versions_replicated_and_copies_once() -> None:
    steps = dict(plan("cx", CLUSTER))
    revisions = steps["010_revisions"]
    engines = {m[1]: m[2] for s in revisions if (m := re.match(
        r"CREATE TABLE cx\.(\w+)_v10_local .*ENGINE = (ReplicatedReplacingMergeTree\(.*?\))\s",
        s, re.S))}
    replica = "'/clickhouse/tables/{{shard}}/cx/{}_v10_local', '{{replica}}'"
    assert engines == {
        "feedback": f"ReplicatedReplacingMergeTree({replica.format('feedback')}, revision)",
        "score_facts": f"ReplicatedReplacingMergeTree({replica.format('score_facts')}, version)",
        "comment_insights":
            f"ReplicatedReplacingMergeTree({replica.format('comment_insights')}, version)",
        "followup_cases":
            f"ReplicatedReplacingMergeTree({replica.format('followup_cases')}, version)",
        "notifications": f"ReplicatedReplacingMergeTree({replica.format('notifications')})"}
    inserts = [s for s in revisions if s.startswith("INSERT")]
    assert len(inserts) == 6 and all(ON not in s for s in inserts)
    assert any("toUInt64(followup_met) FROM cx.score_facts" in s for s in inserts)
    swaps = [s for s in revisions if s.startswith("RENAME")]
    assert f"RENAME TABLE cx.feedback_local TO cx.feedback_v9_local, cx.feedback_v10_local TO " \
           f"cx.feedback_local {ON}" in swaps
    # After the swap the public name is a Distributed table over the rebuilt local one.
    assert (f"CREATE TABLE IF NOT EXISTS cx.feedback {ON} AS cx.feedback_local\n"
            "ENGINE = Distributed('cx_cluster', 'cx', 'feedback_local', cityHash64(event_id))"
            ) in revisions


def test_erasure_deletes_run_on_every_shards_local_table() -> None:
    from streams.queries.erasure import ERASED_TABLES, delete_statements, primed

    ddl = primed("cx", CLUSTER)
    where = "event_id IN ('a, b', 'c') AND match(payload, '\"x\"')"
    for table in ERASED_TABLES:
        assert delete_statements("cx", table, where, ddl) == [
            f"ALTER TABLE cx.{table}_local {ON} DELETE WHERE {where}"]
    assert delete_statements("cx", "feedback", "1") == ["ALTER TABLE cx.feedback DELETE WHERE 1"]
