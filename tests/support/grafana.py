"""The dashboards of grafana/dashboards as tests read them, and Grafana's query expansion.

No Grafana runs on our machines, so the tests do what Grafana and its ClickHouse
plugin do to a panel's query before it reaches a database: substitute the
template variables, then expand the plugin's macros (the same text the
grafana-clickhouse-datasource plugin v4 produces), and run the result for real.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"
PROMETHEUS = "prometheus"
CLICKHOUSE = "grafana-clickhouse-datasource"

_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$([A-Za-z_]\w*)")
_MACRO = re.compile(r"\$__(\w+)(?:\(([^()]*)\))?")


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
    names = {match.group(1) or match.group(3) for match in _VARIABLE.finditer(text)}
    return {name for name in names if not name.startswith("__")}


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Grafana's template variable substitution (formats ``singlequote``, ``sqlstring``, ``raw``).

    Grafana's own variables (``$__interval``) are substituted when ``variables`` has them,
    else left for the data source (the ClickHouse plugin's macros). KeyError names a
    dashboard variable without a value, ValueError a format we do not know.
    """
    def value(match: re.Match[str]) -> str:
        name, form = match.group(1) or match.group(3), match.group(2)
        if name.startswith("__") and name not in variables:
            return match.group(0)
        raw = variables[name]
        if form in (None, "raw"):
            return raw
        if form in ("singlequote", "sqlstring"):
            escaped = raw.replace("'", "''") if form == "sqlstring" else raw.replace("'", "\\'")
            return escaped if form == "sqlstring" else f"'{escaped}'"
        raise ValueError(f"unsupported variable format {form!r} in {match.group(0)}")
    return _VARIABLE.sub(value, text)


def expand(sql: str, *, start_s: int, end_s: int, interval_s: int,
           variables: Mapping[str, str]) -> str:
    """A ClickHouse panel query as the plugin sends it: variables, then macros.

    ``$__timeFilter(c)``, ``$__fromTime``, ``$__toTime``, ``$__dateFilter(c)``,
    ``$__timeInterval(c)`` and ``$__interval_s`` expand as grafana-clickhouse-datasource
    v4 does (seconds precision; its ``_ms`` macros need DateTime64, which ClickHouse 18.16
    lacks, so they are refused here like any unknown macro).
    """
    text = interpolate(sql, variables)
    seconds = max(int(interval_s), 1)

    def date(unix: int) -> str:
        return f"toDate('{datetime.fromtimestamp(unix, UTC):%Y-%m-%d}')"

    def macro(match: re.Match[str]) -> str:
        name, argument = match.group(1), (match.group(2) or "").strip()
        plain = {"fromTime": f"toDateTime({start_s})", "toTime": f"toDateTime({end_s})",
                 "interval_s": str(seconds)}
        if name in plain and match.group(2) is None:
            return plain[name]
        if name == "timeFilter" and argument:
            return (f"{argument} >= toDateTime({start_s}) AND "
                    f"{argument} <= toDateTime({end_s})")
        if name == "dateFilter" and argument:
            return f"{argument} >= {date(start_s)} AND {argument} <= {date(end_s)}"
        if name == "timeInterval" and argument:
            return f"toStartOfInterval(toDateTime({argument}), INTERVAL {seconds} second)"
        raise ValueError(f"unsupported ClickHouse macro {match.group(0)!r}")
    return _MACRO.sub(macro, text)
