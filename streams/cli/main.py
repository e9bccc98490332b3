"""``cxpulse``: the command line. Every failure a user can cause ends in one clear line."""

from __future__ import annotations

import argparse
import os
import signal

from streams.cli import alerts as alerts_cli
from streams.cli import bench as bench_cli
from streams.cli import comments as comments_cli
from streams.cli import forget as forget_cli
from streams.cli import keys as keys_cli
from streams.cli import migrate as migrate_cli
from streams.cli import pipeline as pipeline_cli
from streams.cli import retention as retention_cli
from streams.cli import servers as servers_cli
from streams.cli import status as status_cli
from streams.cli import topics as topics_cli
from streams.cli import traffic as traffic_cli
from streams.cli import verify as verify_cli
from streams.cli import views as views_cli
from streams.config import ConfigError, Settings
from streams.console import say
from streams.kafka import KafkaError
from streams.kafka.broker import BrokerError
from streams.warehouse import WarehouseError

USER_ERRORS = (ConfigError, KafkaError, BrokerError, WarehouseError, OSError, ValueError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxpulse", description="Real-time CX scores from Kafka into ClickHouse. "
        "Configured by CX_* environment variables (see README).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pipeline_cli.add_parser(sub)

    servers_cli.add_parser(sub)

    topics_cli.add_parser(sub)
    migrate_cli.add_parser(sub)

    traffic_cli.add_parser(sub)
    views_cli.add_parser(sub)

    retention_cli.add_parser(sub)

    verify_cli.add_parser(sub)
    alerts_cli.add_parser(sub)
    comments_cli.add_parser(sub)
    keys_cli.add_parser(sub)
    forget_cli.add_parser(sub)
    status_cli.add_parser(sub)

    bench_cli.add_parser(sub)
    return parser


def _hang_up(*_: object) -> None:
    """As Ctrl-C: through SIGINT's handler (a worker's own stop), or, when SIGINT is ignored
    (a job started in the background by a script), as the KeyboardInterrupt it would raise."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        raise KeyboardInterrupt
    os.kill(os.getpid(), signal.SIGINT)


def stop_on_hangup() -> None:
    """A closed terminal (SIGHUP) stops a command as Ctrl-C does, so what it started (the
    demo's broker and worker) stops too; killed outright, it left the broker running.
    Not under ``nohup`` (SIGHUP ignored), nor off the main thread (tests call ``main``)."""
    try:
        if signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:
            signal.signal(signal.SIGHUP, _hang_up)
    except (AttributeError, ValueError):  # no SIGHUP here, or not the main thread
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stop_on_hangup()
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except USER_ERRORS as error:
        say(f"cxpulse {args.command}: error: {error}")
        return 2

