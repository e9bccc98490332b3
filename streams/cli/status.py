"""``cxpulse status [--json]``: where the whole pipeline stands, on one screen.

Each dependency is asked on its own: one that is down is shown down with its error
(one line) and the rest is still shown; the exit code is 1 when any is down. The data
comes from ``queries.status`` (ClickHouse) and ``kafka.lag`` (consumer groups); this
module only asks, puts the answers together and shows them.
"""

from __future__ import annotations

import argparse
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson

from streams.cli.render import alert_line, incident_line
from streams.config import Settings
from streams.core.units import format_time
from streams.kafka import admin
from streams.kafka.lag import INGEST, consumer_groups, group_lags
from streams.queries import status as warehouse_status
from streams.warehouse import connect, one_line

Report = dict[str, Any]
SHOWN = 5
"""Open alerts and incidents listed by name on the screen (all of them in --json)."""


def _ask(report: Report, dependency: str, ask: Callable[[], str]) -> None:
    """Run ``ask``; the dependency is up with its answer, or down with the error's line."""
    try:
        report["dependencies"][dependency] = {"up": True, "detail": ask()}
    except Exception as error:  # any failure of this dependency: show it, go on with the rest
        report["dependencies"][dependency] = {"up": False, "detail": one_line(error)}


def _time(epoch_s: float | None) -> str | None:
    return None if epoch_s is None else format_time(int(epoch_s * 1000), millis=False)


def gather(settings: Settings) -> Report:
    """Everything status shows, as JSON-ready values (times in RFC 3339)."""
    report: Report = {"at": _time(time.time()), "dependencies": {}}
    days = settings.retention_days_of()

    def clickhouse() -> str:
        warehouse = connect(settings.warehouse_url)
        try:
            report["schema"] = warehouse_status.schema(warehouse)
            report["tables"] = found = warehouse_status.tables(warehouse)
            for row in found:
                row["oldest"] = _time(row["oldest"])
                row["retention_days"] = days[row["table"]]
            exists = {row["table"] for row in found if row["exists"]}
            if "alerts" in exists:
                report["open_alerts"] = warehouse_status.open_alerts(warehouse)
            if "incidents" in exists:
                report["open_incidents"] = warehouse_status.open_incidents(warehouse)
            return warehouse.description
        finally:
            warehouse.close()

    def kafka() -> str:
        with admin.kafka_for(settings) as (bootstrap, security):
            groups = consumer_groups(settings.app_id, enrich=settings.comment_enrich)
            lags = group_lags(bootstrap, groups, security)
        report["consumer_groups"] = [lag.as_dict() for lag in lags]
        ingest = next(lag for lag in lags if lag.group.endswith(f"-{INGEST}"))
        oldest = ingest.oldest_unsettled_ms
        report["unsettled"] = {
            "messages": ingest.lag,
            "oldest_minute": None if oldest is None else _time(oldest // 60_000 * 60)}
        return bootstrap

    def prometheus() -> str:
        url = f"{str(settings.prometheus_url).rstrip('/')}/-/ready"
        with urllib.request.urlopen(url, timeout=3) as answer:
            return f"{settings.prometheus_url} ({answer.status})"

    _ask(report, "clickhouse", clickhouse)
    _ask(report, "kafka", kafka)
    if settings.prometheus_url:
        _ask(report, "prometheus", prometheus)
    report["ok"] = all(dep["up"] for dep in report["dependencies"].values())
    return report


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TB"


def view(report: Report) -> str:
    """The report on one screen: dependencies, schema, settling, lags, open alerts and
    incidents, then a line per table."""
    lines = [f"cxpulse status at {report['at']}"]
    for name, dep in report["dependencies"].items():
        lines.append(f"{name:<15}{'up' if dep['up'] else 'DOWN':<6}{dep['detail']}")
    if "schema" in report:
        schema = report["schema"]
        pending = schema["pending"]
        lines.append(f"{'schema':<15}{schema['version'] or 'none'}"
                     + (f", {len(pending)} pending: {', '.join(pending)} (cxpulse migrate)"
                        if pending else " (up to date)"))
    if "unsettled" in report:
        unsettled = report["unsettled"]
        lines.append(f"{'settled':<15}everything read is settled" if not unsettled["messages"]
                     else f"{'settled':<15}oldest unsettled minute {unsettled['oldest_minute']} "
                     f"({unsettled['messages']} messages to go)")
        lines.append(f"{'lag':<15}" + ", ".join(f"{group['group']} {group['lag']}"
                                                for group in report["consumer_groups"]))
    for key, line, what in (("open_alerts", alert_line, "firing alerts"),
                            ("open_incidents", incident_line, "open incidents")):
        if key in report:
            rows = report[key]
            lines.append(f"{what:<15}{len(rows)}")
            lines += [f"  {line(row).strip()}" for row in rows[:SHOWN]]
            if len(rows) > SHOWN:
                lines.append(f"  ... {len(rows) - SHOWN} more (--json)")
    if "tables" in report:
        lines.append(f"{'table':<20}{'rows':>12}{'size':>11}  {'oldest (UTC)':<18}retention")
        for row in report["tables"]:
            oldest = (row["oldest"] or "-")[:16].replace("T", " ")
            rows = f"{row['rows']:,}" if row["exists"] else "missing"
            lines.append(f"{row['table']:<20}{rows:>12}{_size(row['bytes']):>11}  "
                         f"{oldest:<18}{row['retention']}"
                         + (f" {row['retention_days']}d" if row["retention_days"] else ""))
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    report = gather(settings)
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        print(view(report))
    return 0 if report["ok"] else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser(
        "status", help="where the pipeline stands: dependencies, schema version, consumer "
        "lag, the oldest unsettled minute, open alerts and incidents, and per table its "
        "rows, size and oldest row; exit 1 when a dependency is down")
    status.add_argument("--json", action="store_true", help="everything, as a JSON object")
    status.set_defaults(func=cmd_status)
