"""``cxpulse retention``: every table's old rows forgotten by its rule (``core.retention``),
on demand; the leader worker runs the same pass once a day."""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

from streams.config import ConfigError, Settings
from streams.warehouse import connect


def cmd_retention(args: argparse.Namespace, settings: Settings) -> int:
    from streams.queries.retention import prune

    if args.days is not None and args.days < 1:
        raise ConfigError("retention: --days must be >= 1")
    if args.days:
        settings = dataclasses.replace(settings, retention_days=args.days)
    done = prune(connect(settings.warehouse_url), settings.retention_days_of(),
                 now_s=int(time.time()), dry_run=args.dry_run,
                 cluster=settings.clickhouse_cluster)
    verb = "would drop" if args.dry_run else "dropped"
    for table, months in done.months.items():
        print(f"{verb} {table}: {', '.join(map(str, months))}")
    for table, rows in done.rows.items():
        print(f"{verb} {table}: {rows} rows")
    if settings.retention_days is None:
        print("raw events, facts and minutes kept: set CX_RETENTION_DAYS (or --days N)")
    elif not done.months:
        print(f"no month of raw events older than {settings.retention_days} days to drop")
    if not done.rows:
        print("no other rows old enough to drop (CX_RETENTION)")
    return 0


def add_parser(sub: Any) -> None:
    retention = sub.add_parser(
        "retention", help="drop raw events, facts and minutes older than CX_RETENTION_DAYS "
        "(whole months; hourly and daily rollups are kept) and the old rows of the other "
        "tables (CX_RETENTION: closed cases, dead letters, alerts, notifications, incidents)")
    retention.add_argument("--days", type=int, help="override CX_RETENTION_DAYS (>= 1)")
    retention.add_argument("--dry-run", action="store_true", help="list, drop nothing")
    retention.set_defaults(func=cmd_retention)
