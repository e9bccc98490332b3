"""``cxpulse scores``, ``top`` and ``cases``: what the warehouse (or a worker) says now.

The screen and its sources load only when ``top`` runs, so every other command starts fast."""

from __future__ import annotations

import argparse
import time

from streams.cli.render import scores_table, show
from streams.cli.screen import WINDOWS as WINDOW_CHOICES
from streams.config import Settings
from streams.core.units import parse_duration, parse_time
from streams.warehouse import connect


def cmd_scores(args: argparse.Namespace, settings: Settings) -> int:
    from streams.core.scores import parse_weights
    from streams.queries.windows import window_scores

    rows = window_scores(
        connect(settings.warehouse_url), end_ms=int(args.at * 1000),
        window_ms=int(args.window * 1000), deadline_ms=settings.followup_deadline_ms,
        tenant=args.tenant, channel=args.channel, touchpoint=args.touchpoint,
        weights=parse_weights(settings.health_weights))
    show(rows, as_json=args.json, table=scores_table,
         empty="no scores: nothing matches in that window")
    return 0


def cmd_top(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli import top
    from streams.cli.live import Source, WarehouseSource, WorkerSource
    from streams.cli.screen import State
    from streams.core.scores import parse_weights

    if args.key and not args.worker:
        raise ValueError("--key goes with --worker URL; without it top reads ClickHouse directly")
    key = args.key or settings.api_key
    source: Source = (WorkerSource(args.worker, key=key) if args.worker else WarehouseSource(
        connect(settings.warehouse_url), settings.followup_deadline_ms,
        parse_weights(settings.health_weights)))
    return top.run(source, min_answers=settings.min_answers,
                   state=State(tenant=args.tenant, window=args.window),
                   interval=args.interval, once=args.once)


def cmd_cases(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli.render import cases_table
    from streams.queries.cases import unmet_cases

    rows = unmet_cases(connect(settings.warehouse_url), now_ms=int(time.time() * 1000),
                       tenant=args.tenant, overdue_only=args.overdue)
    show(rows, as_json=args.json, table=cases_table,
         empty="no overdue cases" if args.overdue else "no open cases: every follow-up is met")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    scores = sub.add_parser("scores", help="scores from ClickHouse for a window")
    scores.add_argument("--window", type=parse_duration, default=3600.0, help="e.g. 1h, 24h, 7d")
    scores.add_argument("--at", type=parse_time, default="now",
                        help="window end (RFC 3339 or now), floored to the minute")
    scores.add_argument("--tenant")
    scores.add_argument("--channel")
    scores.add_argument("--touchpoint")
    scores.add_argument("--json", action="store_true", help="a JSON array (DESIGN.md keys)")
    scores.set_defaults(func=cmd_scores)

    top = sub.add_parser("top", help="live CX health per tenant and channel, full screen "
                         "(keys: t tenant, w window, q quit)")
    top.add_argument("--worker", metavar="URL", help="read a worker's HTTP API (e.g. "
                     "http://127.0.0.1:6066) instead of ClickHouse (CX_CLICKHOUSE_URL)")
    top.add_argument("--key", help="--worker: a read key (a tenant's) or an admin key (every "
                     "tenant); default CX_API_KEY, which keeps it out of the process list")
    top.add_argument("--tenant", help="the tenant shown first (default: the first by name)")
    top.add_argument("--window", choices=WINDOW_CHOICES, default=WINDOW_CHOICES[0],
                     help="the score window shown first (w cycles them)")
    top.add_argument("--interval", type=parse_duration, default=2.0,
                     help="seconds between refreshes (default 2s)")
    top.add_argument("--once", action="store_true",
                     help="print one snapshot and exit (the default when stdout is no terminal)")
    top.set_defaults(func=cmd_top)

    cases = sub.add_parser("cases", help="follow-up cases that need a call now, oldest first")
    cases.add_argument("--overdue", action="store_true", help="only those past their deadline")
    cases.add_argument("--tenant")
    cases.add_argument("--json", action="store_true", help="a JSON array")
    cases.set_defaults(func=cmd_cases)
