"""Every dashboard panel query, run for real: no Grafana binary runs here, so the tests do
what Grafana would.

- Structure: each dashboard parses, panel ids are unique, every panel says what it shows
  and queries a provisioned data source, every ``$variable`` is defined.
- PromQL: a real ``cxpulse worker`` ingests generated traffic with a failure spike (its
  detector opens an alert), Debian's Prometheus scrapes it every second, and every
  expression, its template variables resolved through Prometheus as Grafana resolves them,
  must return series over the scrape period.
- ClickHouse: forty days of generated traffic and the alerts a backtest finds in it are
  loaded into both engines; every query, with Grafana's variables and the plugin's macros
  expanded, must return rows on ClickHouse 18.16 and on current chdb.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from streams.comments.classify import Classifier
from streams.config import Settings
from streams.core.alerts import FIRING, RESOLVED
from streams.core.backtest import reach, replay
from streams.core.incidents import incidents
from streams.kafka.produce import record_of
from streams.queries.alerting import bucket_series, record
from streams.queries.incidents import record as record_incidents
from streams.tools.generate import TrafficSpec, generate
from streams.tools.load import load
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.support.grafana import (
    CLICKHOUSE,
    DASHBOARDS_DIR,
    PROMETHEUS,
    annotations,
    dashboards,
    kind_of,
    panels,
    queries,
    query_of,
    used_variables,
    variable_query,
    variables,
)
from tests.support.macros import analytics_queries, expand, interpolate
from tests.support.services import get_json, produce, render_prometheus, wait_until, worker_env

DATASOURCES_FILE = DASHBOARDS_DIR.parent / "provisioning" / "datasources" / "datasources.yml"
DAY = 86_400
GRAFANA_GLOBALS = {"__rate_interval", "__interval", "__interval_s", "__range", "__fromTime",
                   "__toTime", "__timeFilter", "__timeInterval", "__dateFilter"}


# ---------------------------------------------------------------- structure


def provisioned() -> dict[str, str]:
    """uid -> type of the provisioned data sources."""
    config = yaml.safe_load(DATASOURCES_FILE.read_text(encoding="utf-8"))
    return {source["uid"]: source["type"] for source in config["datasources"]}


@pytest.mark.parametrize("name", list(dashboards()))
def test_dashboard_structure(name: str) -> None:
    dashboard = dashboards()[name]
    sources = provisioned()
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    defined = {variable["name"] for variable in variables(dashboard)}
    for variable in variables(dashboard):
        source = variable["datasource"]
        assert sources.get(source["uid"]) == source["type"], variable["name"]
        assert used_variables(variable_query(variable)) <= defined, variable["name"]
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        title = panel["title"]
        assert panel.get("description", "").strip(), f"{name}: {title} has no description"
        assert panel.get("targets"), f"{name}: {title} has no query"
        for target in panel["targets"]:
            source = target.get("datasource") or panel["datasource"]
            assert sources.get(source["uid"]) == source["type"], f"{title}: {source}"
            query = query_of(kind_of(panel, target), target)
            assert query.strip(), f"{name}: {title} {target['refId']} is empty"
            undefined = used_variables(query) - defined
            assert not undefined, f"{name}: {title} uses undefined {sorted(undefined)}"
            assert set(re.findall(r"\$(__\w+)", query)) <= GRAFANA_GLOBALS, title


@pytest.mark.parametrize("name", list(dashboards()))
def test_annotation_structure(name: str) -> None:
    """Annotation queries, like panels, query provisioned sources with defined variables."""
    dashboard, sources = dashboards()[name], provisioned()
    defined = {variable["name"] for variable in variables(dashboard)}
    for item in dashboard.get("annotations", {}).get("list", []):
        source = item["datasource"]
        assert sources.get(source["uid"]) == source["type"], item["name"]
        assert item.get("description", "").strip(), f"{name}: {item['name']} says nothing"
        query = query_of(source["type"], item["target"])
        assert used_variables(query) <= defined, item["name"]
        assert set(re.findall(r"\$(__\w+)", query)) <= GRAFANA_GLOBALS, item["name"]


def test_the_health_dashboard_annotates_incidents() -> None:
    assert [name for name, _ in annotations(dashboards()["cx-health.json"], CLICKHOUSE)] == [
        "CX incidents"]


def test_enough_query_panels_on_enough_dashboards() -> None:
    counts = {name: sum(1 for panel in panels(dashboard) if panel.get("targets"))
              for name, dashboard in dashboards().items()}
    assert len([n for n in counts.values() if n]) >= 3, counts
    assert sum(counts.values()) >= 25, counts
    kinds = {kind for dashboard in dashboards().values()
             for kind in (PROMETHEUS, CLICKHOUSE) if queries(dashboard, kind)}
    assert kinds == {PROMETHEUS, CLICKHOUSE}


def test_expansion_matches_the_plugin() -> None:
    """Grafana's formats and own variables; what the plugin has and 18.16 cannot run is refused."""
    assert interpolate("${tenant:singlequote} ${tenant:sqlstring} $__interval ${channel:raw}",
                       {"tenant": "o'k", "channel": "web"}) == "'o\\'k' o''k $__interval web"
    with pytest.raises(ValueError, match="timeInterval"):
        expand("$__timeInterval(t)", start_s=0, end_s=1, interval_s=1, variables={})
    with pytest.raises(ValueError, match="timeFilter_ms"):
        expand("$__timeFilter_ms(t)", start_s=0, end_s=1, interval_s=1, variables={})
    with pytest.raises(KeyError):
        interpolate("$nowhere", {})


def normalised(sql: str) -> str:
    """``sql`` without ``--`` comments, its whitespace collapsed."""
    return " ".join(re.sub(r"--[^\n]*", " ", sql).split())


def test_analytics_panels_run_the_query_files() -> None:
    """The documented queries are the Analytics dashboard's panels, verbatim: one source."""
    panel_sql = {normalised(sql) for _, sql in
                 queries(dashboards()["cx-analytics.json"], CLICKHOUSE)}
    missing = [name for name, sql in analytics_queries().items()
               if normalised(sql) not in panel_sql]
    assert not missing, f"query files not (or no longer) a cx-analytics.json panel: {missing}"


# ---------------------------------------------------------------- PromQL on a live Prometheus


def prometheus_values(url: str, variable: dict[str, Any], chosen: dict[str, str]) -> list[str]:
    """What Grafana lists for a ``label_values(selector, label)`` variable."""
    query = interpolate(variable_query(variable), chosen)
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip())
    assert match, f"{variable['name']}: only label_values(selector, label) is supported"
    selector, label = match.groups()
    found = get_json(f"{url}/api/v1/label/{label}/values?"
                     + urllib.parse.urlencode({"match[]": selector}))["data"]
    pattern = variable.get("regex", "").strip("/")
    return [value for value in found if not pattern or re.search(pattern, value)]


def prometheus_variables(url: str, dashboard: dict[str, Any]) -> dict[str, str]:
    """Each variable's value as Grafana would pick it: All, else the default if listed,
    else the first value. Every variable must list some value."""
    chosen: dict[str, str] = {}
    for variable in variables(dashboard):
        found = prometheus_values(url, variable, chosen)
        assert found, f"variable {variable['name']} lists nothing"
        default = variable.get("current", {}).get("value")
        if variable.get("includeAll"):
            chosen[variable["name"]] = variable["allValue"]
        else:
            chosen[variable["name"]] = default if default in found else found[0]
    return chosen


def empty_promql(url: str, dashboard: dict[str, Any], start: float) -> list[str]:
    """The dashboard's expressions that fail or return no series over [start, now]."""
    end = time.time()
    chosen = prometheus_variables(url, dashboard) | {
        "__rate_interval": "5s", "__interval": "2s", "__range": f"{int(end - start)}s"}
    empty = []
    for where, expr in queries(dashboard, PROMETHEUS):
        query = urllib.parse.urlencode({"query": interpolate(expr, chosen), "start": start,
                                        "end": end, "step": 2})
        try:
            result = get_json(f"{url}/api/v1/query_range?{query}")["data"]["result"]
        except Exception as error:  # a bad query answers 400: name it
            result, where = [], f"{where} ({error})"
        if not result:
            empty.append(where)
    return empty


@pytest.mark.integration
def test_every_promql_panel_returns_series(kafka, server_url, start_worker, start_prometheus,
                                           tmp_path) -> None:
    """6 h of traffic ending now with a failure spike on acme-shop's web checkout, a worker
    publishing every second with 1 h follow-up deadlines (so follow-ups come due), the
    detector comparing 1 h against 4 h (so an alert opens) and comments enriched, a few
    dead letters (one with an e-mail address to mask)."""
    env = worker_env(kafka, server_url, tmp_path) | {
        "CX_SNAPSHOT_SECONDS": "1", "CX_ALERT_SECONDS": "1", "CX_ALERT_WINDOWS": "1h",
        "CX_ALERT_BASELINE": "4h", "CX_FOLLOWUP_HOURS": "1", "CX_COMMENT_ENRICH": "on"}
    worker = start_worker(env)
    worker.wait_ready()
    spec = TrafficSpec(seed=7, start=time.time() - 6 * 3600, duration=6 * 3600, rate=2,
                       scenario="failure-spike")
    produce(kafka, [record_of(event) for event in generate(spec)]
            + [("cx.interactions", None, b"{not json"), ("cx.feedback", None, b"[]"),
               ("cx.feedback", None, b'{"comment": "write to jane@example.com"}')])
    prometheus = start_prometheus(render_prometheus([f"127.0.0.1:{worker.port}"]))
    start = time.time()
    boards = {name: board for name, board in dashboards().items()
              if queries(board, PROMETHEUS)}
    assert len(boards) >= 2
    wait_until(lambda: "cx_alert_active{" in worker.metrics(), 90,
               f"an open alert (worker log {worker.log})", every=1)
    time.sleep(6)  # a few scrapes with the alert and rates over two samples at least
    last: dict[str, list[str]] = {}

    def all_answer() -> bool:
        for name, board in boards.items():
            last[name] = empty_promql(prometheus.url, board, start)
        return not any(last.values())

    try:
        wait_until(all_answer, 30, "every PromQL panel to return series", every=2)
    except AssertionError:
        pytest.fail(f"PromQL panels without series: {last}", pytrace=False)


# ---------------------------------------------------------------- ClickHouse on both engines


def history(tenants: tuple[str, str], now: int) -> list[dict[str, Any]]:
    """Forty quiet days for two tenants, then six busier hours with a failure spike on the
    first tenant's web checkout; a few events break the contract (dead letters)."""
    quiet = TrafficSpec(seed=3, start=now - 40 * DAY, duration=40 * DAY - 6 * 3600, rate=0.01,
                        tenants=tenants)
    spike = TrafficSpec(seed=4, start=now - 6 * 3600, duration=6 * 3600, rate=1.0,
                        scenario="failure-spike", tenants=tenants)
    events = [*generate(quiet), *generate(spike)]
    broken = [event | {"score": 42} for event in events[-200:] if event["type"] == "feedback"]
    return events + broken[:3]


def backtest_alerts(warehouse: Warehouse, now: int) -> int:
    """Record what the detector (1 h against 4 h) fires over the last 6 hours."""
    settings = Settings.from_env({"CX_ALERT_WINDOWS": "1h", "CX_ALERT_BASELINE": "4h"})
    config, deadline = settings.detector(), settings.followup_deadline_ms
    start_ms, end_ms, step_ms = (now - 6 * 3600) * 1000, now * 1000, 300_000
    series = bucket_series(warehouse, start_ms=start_ms - reach(config, deadline),
                           end_ms=end_ms, step_ms=step_ms)
    changes = replay(series, start_ms=start_ms, end_ms=end_ms, config=config,
                     deadline_ms=deadline)
    record(warehouse, changes)
    return len(changes)


def in_database(sql: str, database: str) -> str:
    """Dashboards name tables ``cx.<table>`` (the data source's database); a test has its own."""
    return re.sub(r"\bcx\.(?=\w)", f"{database}.", sql)


def clickhouse_variables(warehouse: Warehouse, dashboard: dict[str, Any], tenant: str,
                         start_s: int, end_s: int) -> dict[str, str]:
    """Each variable's value: this test's tenant, All for the others; each must list values."""
    chosen: dict[str, str] = {}
    for variable in variables(dashboard):
        sql = expand(variable_query(variable), start_s=start_s, end_s=end_s, interval_s=60,
                     variables=chosen)
        listed = [next(iter(row.values())) for row in
                  warehouse.query(in_database(sql, warehouse.database))]
        assert listed, f"variable {variable['name']} lists nothing"
        if variable["name"] == "tenant":
            assert tenant in listed
            chosen["tenant"] = tenant
        else:
            chosen[variable["name"]] = variable["allValue"] if variable.get("includeAll") \
                else listed[0]
    return chosen


@pytest.fixture
def own_warehouse(warehouse: Warehouse) -> Iterator[Warehouse]:
    """The engine of ``warehouse`` with a database of this test's own: forty days up to now
    in the embedded engine's shared tables would show in other tests' untenanted reads."""
    own = copy.copy(warehouse)  # the same connection or chdb session
    own.database = f"dashboards_{secrets.token_hex(4)}"
    yield own
    own.execute(f"DROP DATABASE IF EXISTS {own.database}")


@pytest.mark.integration
def test_every_clickhouse_panel_returns_rows(own_warehouse: Warehouse) -> None:
    warehouse, tenants = own_warehouse, ("acme-shop", "nordwind")
    now = int(time.time()) // 60 * 60
    migrate(warehouse)
    load(warehouse, history(tenants, now), deadline_ms=48 * 3_600_000, classifier=Classifier())
    assert backtest_alerts(warehouse, now) > 0, "the failure spike fires no alert"
    # Dead letters carry the time they were received: the range ends after the load did.
    start_s, end_s = now - 40 * DAY, int(time.time()) + 60
    failures, ran = [], 0
    for name, board in dashboards().items():
        if not queries(board, CLICKHOUSE):
            continue
        chosen = clickhouse_variables(warehouse, board, tenants[0], start_s, end_s)
        for where, sql in queries(board, CLICKHOUSE):
            ran += 1
            expanded = expand(sql, start_s=start_s, end_s=end_s, interval_s=3600,
                              variables=chosen)
            try:
                rows = warehouse.query(in_database(expanded, warehouse.database))
            except Exception as error:
                failures.append(f"{name}: {where}: {error}")
                continue
            if not rows:
                failures.append(f"{name}: {where}: no rows")
    assert ran >= 15
    assert not failures, "\n".join(failures)



@pytest.mark.integration
def test_incident_annotations_return_the_incidents_of_the_range(own_warehouse: Warehouse
                                                                ) -> None:
    """Two incidents of acme-shop (one resolved, one open) and one of nordwind, as the
    leader records them: the annotation lists the chosen tenant's that overlap the range,
    each from opening to resolution (or now), with the attribution's sentence."""
    from tests.core.test_incidents import ch

    warehouse, now = own_warehouse, int(time.time()) // 60 * 60
    migrate(warehouse)
    changes = [ch("app", "checkout", "failure_rate", FIRING, now - 7200, tenant="acme-shop"),
               ch("app", "*", "csat", FIRING, now - 7140, tenant="acme-shop"),
               ch("app", "checkout", "failure_rate", RESOLVED, now - 3600, tenant="acme-shop"),
               ch("app", "*", "csat", RESOLVED, now - 3600, tenant="acme-shop"),
               ch("web", "*", "nps", FIRING, now - 600, tenant="acme-shop"),
               ch("web", "*", "nps", FIRING, now - 600, tenant="nordwind")]
    found = incidents(changes)
    split = {"summary": "checkout explains 92% of the rise in app failure_rate",
             "cause": {"channel": "app", "touchpoint": "checkout", "share": 0.92}}
    record_incidents(warehouse, found, {found[0].id: (split, {"comments": [], "cases": 1})})
    [(_, sql)] = annotations(dashboards()["cx-health.json"], CLICKHOUSE)

    def texts(tenant: str, start_s: int, end_s: int) -> list[tuple[int, str]]:
        expanded = expand(sql, start_s=start_s, end_s=end_s, interval_s=60,
                          variables={"tenant": tenant})
        rows = warehouse.query(in_database(expanded, warehouse.database))
        assert all(set(row) == {"time", "timeEnd", "text", "tags"} for row in rows)
        spans = warehouse.query(  # the engines give times as objects or text: as numbers
            "SELECT toUnixTimestamp(timeEnd) - toUnixTimestamp(time) AS span FROM ("
            + in_database(expanded, warehouse.database) + ")")
        return [(int(span["span"]), row["text"]) for span, row in zip(spans, rows, strict=True)]

    acme = texts("acme-shop", now - 86400, now + 60)
    assert [text for _, text in acme] == [
        "acme-shop: checkout explains 92% of the rise in app failure_rate (warning, 2 alerts: "
        "csat, failure_rate, resolved)",
        "acme-shop: nps worse in web/* (warning, 1 alerts: nps, open)"]
    assert acme[0][0] == 3600 and acme[1][0] >= 600  # an open one lasts up to now
    assert len(texts(".*", now - 86400, now + 60)) == 3  # All
    assert [text for _, text in texts("acme-shop", now - 1800, now + 60)] == [acme[1][1]]
