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


def _stop(*_: object) -> None:
    """As Ctrl-C: through SIGINT's handler (a worker's own stop), or, when SIGINT is ignored
    (a job started in the background by a script), as the KeyboardInterrupt it would raise."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        raise KeyboardInterrupt
    os.kill(os.getpid(), signal.SIGINT)


def stop_on_signals() -> None:
    """A closed terminal (SIGHUP) or a polite kill (SIGTERM: ``kill``, systemd, Kubernetes)
    stops a command as Ctrl-C does, so what it started (the demo's or the soak's broker,
    server and workers) stops too; killed outright, those kept running. A signal that is
    ignored (SIGHUP under ``nohup``) stays ignored; a worker or collector replaces these with
    its own stop once it runs. Not off the main thread (tests call ``main``)."""
    for name in ("SIGHUP", "SIGTERM"):
        number = getattr(signal, name, None)
        try:
            if number is not None and signal.getsignal(number) is signal.SIG_DFL:
                signal.signal(number, _stop)
        except ValueError:  # not the main thread
            return


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stop_on_signals()
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except USER_ERRORS as error:
        say(f"cxpulse {args.command}: error: {error}")
        return 2

