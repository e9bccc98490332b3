"""The dashboards of grafana/dashboards as tests read them.

No Grafana runs on our machines, so the tests do what Grafana and its ClickHouse
plugin do to a panel's query before it reaches a database, with
``tests.support.macros`` (``interpolate`` for template variables, ``expand`` for
the plugin's macros), and run the result for real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.macros import VARIABLE

DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"
PROMETHEUS = "prometheus"
CLICKHOUSE = "grafana-clickhouse-datasource"



def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard of every JSON file in grafana/dashboards."""
    return {path.name: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(DASHBOARDS_DIR.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    def walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from walk(panel.get("panels", []))
    yield from walk(dashboard["panels"])


def kind_of(panel: dict[str, Any], target: dict[str, Any]) -> str:
    """The data source type a target queries (its own, else its panel's)."""
    return (target.get("datasource") or panel["datasource"])["type"]


def query_of(kind: str, target: dict[str, Any]) -> str:
    return target["expr"] if kind == PROMETHEUS else target["rawSql"]


def queries(dashboard: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    """(panel title and refId, query text) of every target on data sources of ``kind``."""
    return [(f"{panel['title']} {target['refId']}", query_of(kind, target))
            for panel in panels(dashboard) for target in panel.get("targets", [])
            if kind_of(panel, target) == kind]


def annotations(dashboard: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    """(name, query text) of every annotation query on data sources of ``kind``."""
    return [(item["name"], query_of(kind, item["target"]))
            for item in dashboard.get("annotations", {}).get("list", [])
            if item.get("datasource", {}).get("type") == kind and "target" in item]


def variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return dashboard.get("templating", {}).get("list", [])


def variable_query(variable: dict[str, Any]) -> str:
    """The query of a query variable, as either data source stores it."""
    query = variable["query"]
    if isinstance(query, str):
        return query
    return query.get("rawSql") or query["query"]


def used_variables(text: str) -> set[str]:
    """Template variable names a query refers to (``$x``, ``${x}``, ``${x:format}``); Grafana's
    own (``$__interval``) and the plugin's macros (``$__timeFilter``) are not among them."""
    names = {match.group(1) or match.group(3) for match in VARIABLE.finditer(text)}
    return {name for name in names if not name.startswith("__")}
