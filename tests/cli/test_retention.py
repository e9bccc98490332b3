"""``cxpulse retention`` as an operator runs it: every table by its rule, a dry run first."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams.core.rows import COLUMNS
from streams.warehouse import connect
from streams.warehouse.migrate import migrate
from tests.cli.test_cli import cxpulse
from tests.support.services import table_count

pytestmark = pytest.mark.integration
DAY = 86400


def test_retention_forgets_old_rows_of_every_table_and_says_what(server_url: str,
                                                                 tmp_path: Path) -> None:
    warehouse = connect(server_url)
    migrate(warehouse)
    now = int(time.time())
    warehouse.insert("deadletters", [(now - 40 * DAY, "invalid", "m", "cx.feedback", 0, 1, b"x"),
                                     (now - DAY, "invalid", "m", "cx.feedback", 0, 2, b"y")],
                     COLUMNS["deadletters"])
    warehouse.insert("interactions", [("e1", "t", "web", "checkout", now - 400 * DAY, 0, 0, "",
                                       "", "{}", "visit", "", None, None, "", now, 0, 0)],
                     COLUMNS["interactions"])
    env = {"CX_CLICKHOUSE_URL": server_url, "CX_DATA_DIR": str(tmp_path)}
    dry = cxpulse("retention", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr.decode()
    said = dry.stdout.decode()
    assert "would drop deadletters: 1 rows" in said and "CX_RETENTION_DAYS" in said, said
    assert table_count(warehouse, "deadletters") == 2
    ran = cxpulse("retention", env=env | {"CX_RETENTION": "deadletters=2"})
    assert ran.returncode == 0 and "dropped deadletters: 1 rows" in ran.stdout.decode()
    assert table_count(warehouse, "deadletters") == 1
    assert table_count(warehouse, "interactions") == 1  # CX_RETENTION_DAYS unset: kept
    months = cxpulse("retention", "--days", "100", env=env)
    assert months.returncode == 0 and "dropped interactions: " in months.stdout.decode()
    assert table_count(warehouse, "interactions") == 0
    bad = cxpulse("retention", env=env | {"CX_RETENTION": "erasures=10"})
    assert bad.returncode == 2 and "CX_RETENTION: 'erasures'" in bad.stderr.decode()
    assert "Traceback" not in bad.stderr.decode()
