"""Grafana's template variables and ClickHouse macros, expanded the way Grafana and
grafana-clickhouse-datasource (v4) do.

The analytics queries (schemas/clickhouse/queries) are the CX Analytics dashboard's
panels; the tests expand them, and every other panel query, with this to run them on
both engines. Grafana expands them in production, so only the tests need this, and it
lives with them rather than in the package. Only macros that run on ClickHouse 18.16 are
expanded: ``$__timeInterval`` becomes ``toStartOfInterval``, which 18.16 lacks, so
queries bucket with ``$__interval_s``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TIME_FILTER = re.compile(r"\$__timeFilter\(\s*([^()]+?)\s*\)")
#: A template variable reference: ``${name}``, ``${name:format}`` or ``$name``.
VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$([A-Za-z_]\w*)")


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Grafana's template variable substitution: ``$name``, ``${name}`` and
    ``${name:format}`` (formats ``raw``, ``singlequote``, ``sqlstring``).

    Grafana's own names (``$__interval``) are substituted when ``variables`` has them,
    else left for the data source. KeyError names a dashboard variable without a value,
    ValueError a format we do not know.
    """
    def value(match: re.Match[str]) -> str:
        name, form = match[1] or match[3], match[2]
        if name.startswith("__") and name not in variables:
            return match[0]
        if name not in variables:
            raise KeyError(f"template variable ${name} has no value")
        raw = variables[name]
        if form in (None, "raw"):
            return raw
        if form == "singlequote":
            return "'" + raw.replace("'", "\\'") + "'"
        if form == "sqlstring":
            return raw.replace("'", "''")
        raise ValueError(f"unsupported variable format {form!r} in {match[0]}")
    return VARIABLE.sub(value, text)


def expand(sql: str, *, start_s: int, end_s: int, interval_s: int,
           variables: Mapping[str, str]) -> str:
    """``sql`` as the plugin sends it: template variables interpolated, then
    ``$__timeFilter(col)``, ``$__fromTime``, ``$__toTime`` and ``$__interval_s`` replaced.

    A variable without a value raises KeyError and any other ``$__`` macro ValueError:
    a query must not reach ClickHouse half-expanded.
    """
    frm, to = f"toDateTime({int(start_s)})", f"toDateTime({int(end_s)})"
    sql = interpolate(sql, variables)
    sql = _TIME_FILTER.sub(lambda m: f"{m[1]} >= {frm} AND {m[1]} <= {to}", sql)
    sql = (sql.replace("$__fromTime", frm).replace("$__toTime", to)
           .replace("$__interval_s", str(max(int(interval_s), 1))))
    left = re.search(r"\$__\w+", sql)
    if left:
        raise ValueError(f"unsupported ClickHouse macro {left[0]!r}")
    return sql


def analytics_queries() -> dict[str, str]:
    """The documented analytics queries (schemas/clickhouse/queries), by file stem."""
    from importlib.resources import files

    folder = files("cxpulse_schemas").joinpath("clickhouse", "queries")
    return {entry.name.removesuffix(".sql"): entry.read_text("utf-8")
            for entry in sorted(folder.iterdir(), key=lambda entry: entry.name)
            if entry.name.endswith(".sql")}
