"""What status reads from ClickHouse, on both engines: every table with its rows, size and
oldest row, the schema version with what is pending, open alerts and incidents."""

from __future__ import annotations

import calendar

import pytest

from streams.core.alerts import ALERT_COLUMNS
from streams.core.retention import RULES
from streams.core.rows import COLUMNS
from streams.queries.incidents import STORED_COLUMNS
from streams.queries.status import open_alerts, open_incidents, schema, tables
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate, migration_files
from tests.support.databases import OwnDatabase

pytestmark = pytest.mark.integration
OLD = calendar.timegm((2026, 1, 5, 10, 0, 0))


def test_status_reads_tables_schema_and_what_is_open(warehouse: Warehouse) -> None:
    own = OwnDatabase(warehouse, "status")
    try:
        versions = [version for version, _ in migration_files()]
        migrate(own, until=versions[-3])
        assert schema(own) == {"version": versions[-3], "latest": versions[-1],
                               "pending": versions[-2:]}
        missing = {row["table"] for row in tables(own) if not row["exists"]}
        assert missing == {"erasures", "incidents"}  # made by the last two migrations
        migrate(own)
        assert schema(own)["pending"] == []
        own.insert("deadletters", [(OLD, "invalid", "m", "cx.feedback", 0, 1, b"x"),
                                   (OLD + 3600, "invalid", "m", "cx.feedback", 0, 2, b"y")],
                   COLUMNS["deadletters"])
        own.insert("alerts", [("t", "web", "checkout", "nps", "firing", OLD, "1h", 1.0, 2.0,
                               10, "dropped", "warning", None, "7d", "1h")], ALERT_COLUMNS)
        own.insert("incidents", [("t", "i1", "web", "checkout", "open", "warning", "web",
                                  "checkout", "nps", OLD, ["nps"], 1, OLD, OLD, None, 1, "{}",
                                  "{}")], STORED_COLUMNS)
        found = {row["table"]: row for row in tables(own)}
        assert list(found) == list(RULES)
        assert found["deadletters"]["rows"] == 2 and found["deadletters"]["bytes"] > 0
        assert found["deadletters"]["oldest"] == OLD
        assert found["interactions"] == {"table": "interactions", "exists": True, "rows": 0,
                                         "bytes": 0, "oldest": None, "retention": "months"}
        assert found["schema_migrations"]["rows"] >= len(versions)
        assert [(a["metric"], a["state"]) for a in open_alerts(own)] == [("nps", "firing")]
        assert [i["id"] for i in open_incidents(own)] == ["i1"]
    finally:
        own.close()
