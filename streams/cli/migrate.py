"""``cxpulse migrate``: bring the warehouse schema up to date, print it, or show where it stands.

A migrator may be killed anywhere and run again (streams/warehouse/migrate.py);
``--status`` shows what a run left: the steps applied and when, the steps pending
(with the statements a killed run already did) and who holds the lock.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import orjson

from streams.config import Settings
from streams.console import say
from streams.warehouse import connect, database_of
from streams.warehouse.migrate import migrate, render, status


def status_text(found: dict[str, Any]) -> str:
    """``--status`` for a terminal: one line per applied and pending step, then the lock."""
    lines = [f"warehouse {found['where']}: schema at {found['version'] or 'nothing'}"]
    for step in found["applied"]:
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(step["applied_at"]))
        lines.append(f"  applied  {step['version']:<24} {at} UTC")
    for step in found["pending"]:
        done = (f" ({step['done']} of {step['statements']} statements done by a run that "
                "stopped)" if step["done"] else "")
        lines.append(f"  pending  {step['version']:<24}{done}")
    lines.append(f"lock: {found['lock']['state']}")
    return "\n".join(lines)


def progress(version: str, step: int, chunk: str) -> None:
    """One stderr line per chunk of a copy: a long rebuild shows it is moving."""
    if chunk:
        say(f"{version}: statement {step + 1}, copied {chunk}")


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    if args.json and not args.status:
        raise ValueError("--json goes with --status (cxpulse migrate --status --json)")
    if args.print:
        print(render(database_of(settings.warehouse_url), settings.clickhouse_cluster), end="")
        return 0
    warehouse = connect(settings.warehouse_url)
    if args.status:
        found = status(warehouse, settings.clickhouse_cluster)
        print(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode() if args.json
              else status_text(found))
        return 0
    applied = migrate(warehouse, settings.clickhouse_cluster, after=progress)
    print(f"{warehouse.description}: " + (f"applied {', '.join(applied)}" if applied
                                           else "schema up to date"))
    return 0


def add_parser(sub: Any) -> None:
    migrate_ = sub.add_parser("migrate", help="apply schemas/clickhouse, resumable after a "
                              "kill (on CX_CLICKHOUSE_CLUSTER if set)")
    shown = migrate_.add_mutually_exclusive_group()
    shown.add_argument("--print", action="store_true",
                       help="print every statement for this configuration, run nothing")
    shown.add_argument("--status", action="store_true",
                       help="show the applied and pending steps and the lock's holder; "
                       "change nothing")
    migrate_.add_argument("--json", action="store_true", help="--status as JSON")
    migrate_.set_defaults(func=cmd_migrate)
