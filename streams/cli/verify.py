"""``cxpulse verify``: stored scores against a recomputation from the raw events."""

from __future__ import annotations

import argparse
import time

from streams.config import Settings
from streams.console import say
from streams.warehouse import connect


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from streams.queries.verify import differences, expected_minutes

    warehouse = connect(settings.warehouse_url)
    found = differences(warehouse, settings.followup_deadline_ms)
    if not found:
        count = len(expected_minutes(warehouse, settings.followup_deadline_ms))
        print(f"verified {count} scope-minutes in {warehouse.description}, and their hourly "
              "and daily rollups: all equal")
        return 0
    for diff in found[:50]:
        fields = ", ".join(f"{name} stored {have} expected {want}"
                           for name, (have, want) in diff["fields"].items())
        minute = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(diff["minute"]))
        print(f"{diff['table']} {'/'.join(diff['scope'])} {minute}: {fields}")
    say(f"{len(found)} scope-minutes, hours or days differ from the recomputation")
    return 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("verify", help="compare scores with a recomputation from raw events; "
                   "non-zero exit on any difference").set_defaults(func=cmd_verify)
