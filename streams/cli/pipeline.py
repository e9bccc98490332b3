"""What the commands that run the pipeline need first (Kafka reachable with its topics, the
warehouse migrated), and ``cxpulse demo``, which runs it all in one process on embedded
defaults (the demo itself is ``streams.cli.demo``, imported only when it runs)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import Iterator

from streams.config import Settings
from streams.console import say
from streams.core.units import parse_duration
from streams.kafka import admin
from streams.warehouse import connect
from streams.warehouse.migrate import ensure_schema


@contextlib.contextmanager
def pipeline_ready(settings: Settings, *, start_local: bool) -> Iterator[Settings]:
    """Kafka reachable with topics, ClickHouse migrated: the settings to run with."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with admin.kafka_for(settings, start_local=start_local) as (bootstrap, security):
        created = admin.create_topics(bootstrap, settings.partitions, security)
        if created:
            say(f"created topics {', '.join(created)} ({settings.partitions} partitions)")
        say(ensure_schema(connect(settings.warehouse_url), settings.clickhouse_cluster,
                          migrate_on_start=settings.migrate_on_start))
        yield dataclasses.replace(settings, kafka_bootstrap=bootstrap)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli import demo

    with pipeline_ready(settings, start_local=True) as ready:
        return demo.run(ready, duration=args.duration, rate=args.rate, scenario=args.scenario,
                        history_seconds=args.history, via_collector=args.via_collector)


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="the main job on embedded defaults, with live output")
    demo.add_argument("--duration", type=parse_duration, default=None,
                      help="stop after this long (e.g. 60s); default: run until Ctrl-C")
    demo.add_argument("--rate", type=float, default=200.0, help="events per second")
    demo.add_argument("--scenario", default="incident", help="traffic scenario")
    demo.add_argument("--history", type=parse_duration, default=3600.0,
                      help="steady traffic backfilled first, the norm alerts compare with "
                      "(default 1h)")
    demo.add_argument("--via-collector", action="store_true",
                      help="send the live traffic over HTTP through a collector (cxpulse "
                      "collect, on CX_COLLECT_PORT) with a write key per tenant, as real "
                      "sources do; the history still goes straight to Kafka")
    demo.set_defaults(func=cmd_demo)
