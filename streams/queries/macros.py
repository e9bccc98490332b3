"""Grafana's ClickHouse macros expanded the way grafana-clickhouse-datasource (v4) does.

The analytics queries (schemas/clickhouse/queries) are written for Grafana; tests and
the dashboards' tests expand them with this to run them on both engines. Only
macros that run on ClickHouse 18.16 are used there: ``$__timeInterval`` becomes
``toStartOfInterval``, which 18.16 lacks, so queries bucket with ``$__interval_s``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TIME_FILTER = re.compile(r"\$__timeFilter\(\s*([^()]+?)\s*\)")
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def expand(sql: str, *, start_s: int, end_s: int, interval_s: int,
           variables: Mapping[str, str]) -> str:
    """``sql`` with ``$__timeFilter(col)``, ``$__fromTime``, ``$__toTime``, ``$__interval_s``
    and template variables (``$name`` or ``${name}``, values inserted as they are) replaced.

    An unknown ``$name`` raises KeyError: a query must not reach ClickHouse half-expanded.
    """
    frm, to = f"toDateTime({int(start_s)})", f"toDateTime({int(end_s)})"
    sql = _TIME_FILTER.sub(lambda m: f"{m[1]} >= {frm} AND {m[1]} <= {to}", sql)
    sql = (sql.replace("$__fromTime", frm).replace("$__toTime", to)
           .replace("$__interval_s", str(max(int(interval_s), 1))))

    def variable(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name not in variables:
            raise KeyError(f"template variable ${name} has no value")
        return variables[name]

    return _VARIABLE.sub(variable, sql)


def analytics_queries() -> dict[str, str]:
    """The documented analytics queries (schemas/clickhouse/queries), by file stem."""
    from importlib.resources import files

    folder = files("cxpulse_schemas").joinpath("clickhouse", "queries")
    return {entry.name.removesuffix(".sql"): entry.read_text("utf-8")
            for entry in sorted(folder.iterdir(), key=lambda entry: entry.name)
            if entry.name.endswith(".sql")}
