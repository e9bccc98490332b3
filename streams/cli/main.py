"""``cxpulse``: the command line. Every failure a user can cause ends in one clear line."""

from __future__ import annotations

import argparse
import dataclasses
import time

from streams.cli import alerts as alerts_cli
from streams.cli import comments as comments_cli
from streams.cli import forget as forget_cli
from streams.cli import keys as keys_cli
from streams.cli import migrate as migrate_cli
from streams.cli import pipeline as pipeline_cli
from streams.cli import status as status_cli
from streams.cli import topics as topics_cli
from streams.cli import traffic as traffic_cli
from streams.cli import verify as verify_cli
from streams.cli import views as views_cli
from streams.cli.pipeline import pipeline_ready
from streams.config import WORKER_ROLES, ConfigError, Settings
from streams.console import say
from streams.core.units import parse_duration
from streams.dependencies import wait_at_start
from streams.kafka import KafkaError
from streams.kafka.broker import BrokerError
from streams.warehouse import WarehouseError, connect

USER_ERRORS = (ConfigError, KafkaError, BrokerError, WarehouseError, OSError, ValueError)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    if args.role:
        settings = dataclasses.replace(settings, worker_role=args.role)
    if settings.worker_role == "enrich" and not settings.comment_enrich:
        raise ValueError("an enrich worker needs the comment model: CX_COMMENT_ENRICH=off "
                         "leaves it nothing to do")
    wait_at_start(settings, "worker", port=settings.metrics_port)
    with pipeline_ready(settings, start_local=True) as ready:
        say(f"worker: Kafka {ready.kafka_bootstrap}, metrics on :{ready.metrics_port}/metrics")
        from streams.worker.app import create_app
        from streams.worker.run import run_worker

        run_worker(create_app(ready), args.loglevel)
    return 0


def cmd_collect(args: argparse.Namespace, settings: Settings) -> int:
    port = args.port or settings.collect_port
    wait_at_start(settings, "collect", port=port, host=args.host)
    with pipeline_ready(settings, start_local=True) as ready:
        from streams.collect.run import run_collector

        say(f"collector: http://{args.host}:{port}/v1/events, Kafka {ready.kafka_bootstrap}")
        run_collector(ready, bootstrap=str(ready.kafka_bootstrap), host=args.host, port=port)
    return 0


    return 0


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


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    if args.suite == "alerts":
        from streams.tools.bench import alerts

        return alerts.run(settings, quick=args.quick, output=args.json)
    if args.suite == "reads":
        from streams.tools.bench import reads

        return reads.run(settings, output=args.json)
    if args.suite == "comments":
        from streams.tools.bench import comments

        return comments.run(settings, output=args.json)
    if args.suite == "collect":
        from streams.tools.bench import collect

        return collect.run(settings, quick=args.quick, output=args.json)
    if args.suite == "soak":
        from streams.tools.bench import soak

        return soak.run(settings, duration=args.duration, fault_every=args.fault_every,
                        outage=args.outage, rate=args.rate, output=args.json)
    if args.quick:
        raise ValueError("--quick applies to 'bench alerts' and 'bench collect' only")
    from streams.tools import bench

    return bench.run(settings, events=args.events, output=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxpulse", description="Real-time CX scores from Kafka into ClickHouse. "
        "Configured by CX_* environment variables (see README).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pipeline_cli.add_parser(sub)

    worker = sub.add_parser("worker", help="run a Faust worker (any number share the partitions)")
    worker.add_argument("--loglevel", default="info",
                        choices=["crit", "error", "warn", "info", "debug"])
    worker.add_argument("--role", choices=WORKER_ROLES,
                        help="ingest (events, scores, alerts), enrich (the comment model) or "
                        "all (default: CX_WORKER_ROLE, else all); each scales on its own")
    worker.set_defaults(func=cmd_worker)

    collect = sub.add_parser("collect", help="the HTTP collector: events and signed webhooks "
                             "in, 200 only after Kafka acknowledged them")
    collect.add_argument("--port", type=int, default=None, help="default CX_COLLECT_PORT (8088)")
    collect.add_argument("--host", default="0.0.0.0", help="address to listen on (default all)")
    collect.set_defaults(func=cmd_collect)

    topics_cli.add_parser(sub)
    migrate_cli.add_parser(sub)

    traffic_cli.add_parser(sub)
    views_cli.add_parser(sub)

    retention = sub.add_parser(
        "retention", help="drop raw events, facts and minutes older than CX_RETENTION_DAYS "
        "(whole months; hourly and daily rollups are kept) and the old rows of the other "
        "tables (CX_RETENTION: closed cases, dead letters, alerts, notifications, incidents)")
    retention.add_argument("--days", type=int, help="override CX_RETENTION_DAYS (>= 1)")
    retention.add_argument("--dry-run", action="store_true", help="list, drop nothing")
    retention.set_defaults(func=cmd_retention)

    verify_cli.add_parser(sub)
    alerts_cli.add_parser(sub)
    comments_cli.add_parser(sub)
    keys_cli.add_parser(sub)
    forget_cli.add_parser(sub)
    status_cli.add_parser(sub)

    bench = sub.add_parser("bench", help="measure ingest throughput against the local broker; "
                           "'bench alerts' measures alert detection delay, false alarms and cost")
    bench.add_argument("suite", nargs="?", choices=["alerts", "reads", "comments", "collect",
                                                  "soak"],
                       help="alerts: detection delay per scenario and volume, false alarms per "
                       "tenant-week, one evaluation pass at 10k scopes (about 6 min); reads: "
                       "7-day windows and 90-day trends from the rollups vs the minutes over "
                       "a simulated year (about 3 min); comments: the comment model's speed, "
                       "latency and memory, alone and stored as the worker does (about 4 min); "
                       "collect: one collector process's events/s (single events, 100-event "
                       "batches) and latency at 50%% and 90%% load, acks on (about 2 min); "
                       "soak: 50%% load for --duration with a fault every --fault-every: "
                       "events lost, verify, RSS growth, p99 and log lines per fault")
    bench.add_argument("--events", type=int, default=200_000, help="ingest bench: events")
    bench.add_argument("--quick", action="store_true",
                       help="alerts: a smoke run (3 days, low volume only, 1k scopes); "
                       "collect: 2-second phases")
    bench.add_argument("--duration", type=parse_duration, default=1800.0,
                       help="soak: how long the load runs (default 30m)")
    bench.add_argument("--fault-every", type=parse_duration, default=300.0,
                       help="soak: seconds between faults (default 5m)")
    bench.add_argument("--outage", type=parse_duration, default=40.0,
                       help="soak: how long each fault lasts (default 40s)")
    bench.add_argument("--rate", type=float, default=None,
                       help="soak: events/s offered (default: 50%% of the measured capacity)")
    bench.add_argument("--json", help="also write the results to this JSON file")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except USER_ERRORS as error:
        say(f"cxpulse {args.command}: error: {error}")
        return 2

