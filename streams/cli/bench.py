"""``cxpulse bench [SUITE]``: the benchmarks; each suite's module is imported when it runs."""

from __future__ import annotations

import argparse
from typing import Any

from streams.config import Settings
from streams.core.units import parse_duration


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


def add_parser(sub: Any) -> None:
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
