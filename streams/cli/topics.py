"""``cxpulse topics``: create the pipeline's topics ahead of time on CX_KAFKA_BOOTSTRAP (or the
running local broker); ``worker``, ``collect`` and ``demo`` create them as they start."""

from __future__ import annotations

import argparse

from streams.config import Settings
from streams.kafka import admin


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    with admin.kafka_for(settings) as (bootstrap, security):
        created = admin.create_topics(bootstrap, settings.partitions, security)
    print(f"created: {', '.join(created)}" if created else "all topics exist")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("topics", help="create the topics (CX_PARTITIONS partitions)").set_defaults(
        func=cmd_topics)
