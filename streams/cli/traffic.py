"""``cxpulse produce`` and ``generate``: events into Kafka, from JSON Lines or synthetic."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from streams.config import Settings
from streams.console import say
from streams.core.units import parse_duration, parse_time
from streams.kafka import admin


def cmd_produce(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.produce import produce_lines

    with admin.kafka_for(settings) as (bootstrap, security):
        if args.file == "-":
            report = produce_lines(bootstrap, security, sys.stdin.buffer, args.topic)
        else:
            with Path(args.file).open("rb") as lines:
                report = produce_lines(bootstrap, security, lines, args.topic)
    for problem in report.skipped[:20]:
        say(f"skipped {problem}")
    if len(report.skipped) > 20:
        say(f"... and {len(report.skipped) - 20} more unroutable lines")
    say(report.summary())
    return 1 if report.skipped else 0


async def paced(events: Iterator[dict], speed: float | None) -> AsyncIterator[tuple]:
    """Kafka records of ``events``, each released when its event time comes (``speed`` x
    real time), or at once."""
    from streams.kafka.produce import record_of
    from streams.tools.generate.pace import paced as paced_events

    async for event in paced_events(events, speed):
        yield record_of(event)


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    import orjson

    from streams.kafka.produce import Report, send_stream
    from streams.tools.generate import TrafficSpec, generate

    live = not args.backfill
    start = args.start if args.start is not None else (
        time.time() if live else time.time() - args.duration)
    spec = TrafficSpec(seed=args.seed, start=start, duration=args.duration, rate=args.rate,
                       scenario=args.scenario, tenants=tuple(args.tenant or ("acme-shop",
                                                                             "nordwind")),
                       revised=args.revised)
    events = generate(spec)
    if args.output:
        with contextlib.ExitStack() as stack:
            out = sys.stdout.buffer if args.output == "-" else stack.enter_context(
                Path(args.output).open("wb"))
            count = 0
            for event in events:
                out.write(orjson.dumps(event) + b"\n")
                count += 1
        say(f"wrote {count} events")
        return 0
    with admin.kafka_for(settings) as (bootstrap, security):
        mode = "live" if live else "backfill"
        say(f"generating {args.scenario} traffic ({mode}): ~{args.rate:g} events/s for "
            f"{args.duration:g}s of event time to {bootstrap}")
        report = asyncio.run(send_stream(bootstrap, security,
                                         paced(events, 1.0 if live else None), Report()))
    say(report.summary())
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    produce = sub.add_parser("produce", help="send JSON Lines events, routed by 'type'")
    produce.add_argument("file", help="a JSON Lines file, or - for stdin")
    produce.add_argument("--topic", help="send every line verbatim to this topic (no routing)")
    produce.set_defaults(func=cmd_produce)

    generate = sub.add_parser("generate", help="realistic synthetic traffic")
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--rate", type=float, default=100.0, help="mean events per second")
    generate.add_argument("--duration", type=parse_duration, default=60.0,
                          help="event time covered, e.g. 60s, 2h, 8d")
    generate.add_argument("--scenario", default="steady", help="traffic scenario: steady "
                          "(default), incident, blind-spot, nps-drop, failure-spike, degraded, "
                          "silent-channel or followup-backlog")
    generate.add_argument("--tenant", action="append", help="a tenant (repeatable)")
    generate.add_argument("--revised", type=float, default=0.05,
                          help="share of commented feedback sent as two revisions: the score, "
                          "then the answer with its comment as revision 1 (default 0.05)")
    generate.add_argument("--start", type=parse_time, default=None,
                          help="event time of the start (RFC 3339); default: now, or "
                          "--duration ago with --backfill. Same seed and start, same events")
    generate.add_argument("--backfill", action="store_true",
                          help="event times over the past --duration, sent at once "
                          "(default: live, paced in real time)")
    generate.add_argument("--output", help="write JSON Lines to this file (- for stdout) "
                          "instead of Kafka")
    generate.set_defaults(func=cmd_generate)
