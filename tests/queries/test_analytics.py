"""Every documented analytics query runs and returns rows on generated data, on both engines,
with Grafana's macros expanded as the datasource plugin expands them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from streams.comments.classify import Classifier
from streams.tools.generate import TrafficSpec, generate
from streams.tools.load import load
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.databases import OwnDatabase
from tests.support.macros import analytics_queries, expand

NOW_S = int(time.time()) // 60 * 60
DAYS = 40


def test_expand_matches_the_plugin() -> None:
    sql = ("SELECT 1 FROM t WHERE $__timeFilter(day) AND x < $__toTime AND y >= $__fromTime "
           "AND tenant = '$tenant' AND c = '${channel}' GROUP BY intDiv(v, $__interval_s)")
    assert expand(sql, start_s=10, end_s=20, interval_s=0,
                  variables={"tenant": "acme", "channel": "web"}) == (
        "SELECT 1 FROM t WHERE day >= toDateTime(10) AND day <= toDateTime(20) AND "
        "x < toDateTime(20) AND y >= toDateTime(10) AND tenant = 'acme' AND c = 'web' "
        "GROUP BY intDiv(v, 1)")
    with pytest.raises(KeyError):
        expand("SELECT '$nope'", start_s=0, end_s=1, interval_s=1, variables={})


def test_query_files_use_only_supported_macros() -> None:
    queries = analytics_queries()
    assert len(queries) >= 10
    for name, sql in queries.items():
        assert sql.lstrip().startswith("--"), f"{name}: say what it answers"
        assert "$__timeInterval" not in sql, f"{name}: toStartOfInterval is not on 18.16"
        assert ";" not in sql, f"{name}: one statement"
        assert re.search(r"\$__timeFilter|\$__toTime", sql), f"{name}: follows the time range"


@pytest.fixture
def loaded(warehouse: Warehouse) -> Iterator[Warehouse]:
    own = OwnDatabase(warehouse, "analytics")
    try:
        migrate(own)
        spec = TrafficSpec(seed=9, start=NOW_S - DAYS * 86400, duration=DAYS * 86400 - 600,
                           rate=0.02, tenants=("acme-shop",))
        load(own, generate(spec), deadline_ms=48 * 3_600_000, classifier=Classifier())
        yield own
    finally:
        own.close()


@pytest.mark.integration
def test_every_query_returns_rows(loaded: Warehouse) -> None:
    for name, sql in analytics_queries().items():
        text = expand(sql, start_s=NOW_S - (DAYS - 1) * 86400, end_s=NOW_S, interval_s=86400,
                      variables={"tenant": "acme-shop", "channel": "web",
                                 "touchpoint": "*"})
        text = re.sub(r"\bcx\.", f"{loaded.database}.", text)
        rows = loaded.query(text)
        assert rows, name
        if name == "repeat_purchase_cohorts":
            assert {row["cohort"] for row in rows} >= {"detractor", "promoter"}
