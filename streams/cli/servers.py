"""``cxpulse worker`` and ``cxpulse collect``: the long-running servers. Each waits for its
dependencies first (``CX_STARTUP_TIMEOUT``), then runs on the pipeline ``pipeline_ready`` gives."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from streams.cli.pipeline import pipeline_ready
from streams.config import WORKER_ROLES, Settings
from streams.console import say
from streams.dependencies import wait_at_start


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


def add_parser(sub: Any) -> None:
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
