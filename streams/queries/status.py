"""What ``cxpulse status`` reads from ClickHouse: tables, schema version, open alerts and
incidents. Each table's oldest row is read on its retention rule's time column
(``core.retention.RULES``), so every table is listed and measured alike."""

from __future__ import annotations

from typing import Any

from streams.core.retention import RULES
from streams.queries.alerting import alert_rows, history
from streams.queries.incidents import listing
from streams.warehouse import Warehouse
from streams.warehouse.cluster import LOCAL_SUFFIX
from streams.warehouse.migrate import applied_versions, migration_files, pending_files
from streams.warehouse.sql import sql_literal


def tables(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Per table of the schema: stored rows and bytes (active parts: versions not yet merged
    count; on a cluster, this node's shard), the oldest row's time (epoch s, None when
    empty; on a cluster, of every shard) and its retention rule."""
    db = warehouse.database
    parts: dict[str, dict[str, int]] = {}
    for row in warehouse.query(
            "SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts "
            f"WHERE database = {sql_literal(db)} AND active GROUP BY table"):
        # On a cluster (CX_CLICKHOUSE_CLUSTER) the rows are in <table>_local: this shard's.
        mine = parts.setdefault(row["table"].removesuffix(LOCAL_SUFFIX), {"rows": 0, "bytes": 0})
        mine["rows"] += int(row["rows"])
        mine["bytes"] += int(row["bytes"])
    present = {row["name"] for row in warehouse.query(
        f"SELECT name FROM system.tables WHERE database = {sql_literal(db)}")}
    found = []
    for table, rule in RULES.items():
        if table not in present:
            found.append({"table": table, "exists": False, "rows": 0, "bytes": 0,
                          "oldest": None, "retention": rule.how})
            continue
        part = parts.get(table, {})
        rows = part.get("rows", 0)
        oldest = None
        if rows:
            oldest = int(warehouse.query(
                f"SELECT toUnixTimestamp(min({rule.column})) AS oldest FROM {db}.{table}"
            )[0]["oldest"])
        found.append({"table": table, "exists": True, "rows": rows,
                      "bytes": part.get("bytes", 0), "oldest": oldest,
                      "retention": rule.how})
    return found


def schema(warehouse: Warehouse) -> dict[str, Any]:
    """The migrations applied and pending: the schema version is the newest applied."""
    done = applied_versions(warehouse)
    return {"version": max(done) if done else None, "latest": migration_files()[-1][0],
            "pending": [version for version, _ in pending_files(warehouse)]}


def open_alerts(warehouse: Warehouse) -> list[dict[str, Any]]:
    """The alerts firing now (their latest change), oldest first."""
    return alert_rows(history(warehouse, firing_only=True))


def open_incidents(warehouse: Warehouse) -> list[dict[str, Any]]:
    """The incidents open now, newest opened first."""
    return listing(warehouse, open_only=True)
