"""``cxpulse keys``: create, list and revoke the per-tenant API keys in ``cx.api_keys``.

The key text exists once, in ``create``'s output: on stdout alone (so
``KEY=$(cxpulse keys create ...)`` works), its notes on stderr; only its hash is
stored, and listings show no more than a short prefix of that. Every command
migrates the warehouse first, so the table exists on a fresh one.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Final

import orjson

from streams.cli.render import Row, show
from streams.config import Settings
from streams.console import say
from streams.core.contract import check_tenant
from streams.core.keys import ApiKey, new_key, split_key
from streams.core.units import format_time
from streams.queries.keys import list_keys, revoke_key, store_key
from streams.warehouse import Warehouse, connect
from streams.warehouse.migrate import migrate

REVOKE_SECONDS: Final = 10
"""A revoked key stops working on every server (collectors, workers' read API) within this:
they reread ``cx.api_keys`` every ``CX_KEYS_REFRESH_SECONDS`` (5 s by default), plus a
query."""
HASH_SHOWN: Final = 8
"""Hex digits of a key's hash a listing shows: enough to tell keys apart, useless to attack."""


def _warehouse(settings: Settings) -> Warehouse:
    warehouse = connect(settings.warehouse_url)
    applied = migrate(warehouse, settings.clickhouse_cluster)
    if applied:
        say(f"warehouse {warehouse.description}: applied {', '.join(applied)}")
    return warehouse


def key_row(key: ApiKey) -> Row:
    """A key as listings show it: never the secret, never the whole hash."""
    return {"id": key.id, "tenant": key.tenant, "scope": key.scope, "name": key.name,
            "created_at": format_time(key.created_at * 1000, millis=False),
            "state": "active" if key.revoked_at is None else "revoked",
            "revoked_at": None if key.revoked_at is None
            else format_time(key.revoked_at * 1000, millis=False),
            "hash_prefix": key.key_hash[:HASH_SHOWN]}


def keys_table(rows: list[Row]) -> str:
    """``cxpulse keys list``: one line per key, oldest first."""
    width = max(len("tenant"), *(len(r["tenant"]) for r in rows)) + 2
    lines = [f"{'id':<14}{'tenant':<{width}}{'scope':<7}{'created (UTC)':<18}"
             f"{'state':<26}{'hash':<10}name"]
    for r in rows:
        state = r["state"] + (f" {r['revoked_at'][:16].replace('T', ' ')}"
                              if r["revoked_at"] else "")
        lines.append(f"{r['id']:<14}{r['tenant']:<{width}}{r['scope']:<7}"
                     f"{r['created_at'][:16].replace('T', ' '):<18}{state:<26}"
                     f"{r['hash_prefix'] + '…':<10}{r['name']}".rstrip())
    return "\n".join(lines)


def _owner(key: ApiKey) -> str:
    return "every tenant" if key.scope == "admin" else f"tenant {key.tenant}"


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    if args.scope == "admin" and args.tenant:
        raise ValueError("an admin key acts for every tenant: drop --tenant")
    if args.scope != "admin" and not args.tenant:
        raise ValueError(f"a {args.scope} key belongs to one tenant: give --tenant T")
    record, text = new_key(args.tenant or "", args.scope, args.name, int(time.time()))
    store_key(_warehouse(settings), record)
    if args.json:
        out: dict[str, Any] = {**key_row(record), "key": text}
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    else:
        print(text, flush=True)
    say(f"created {record.scope} key {record.id} for {_owner(record)}"
        + (f" ({record.name})" if record.name else ""))
    say("store it now: it cannot be shown again (only its hash is kept)")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    if args.tenant is not None:
        check_tenant(args.tenant)
    rows = [key_row(key) for key in list_keys(_warehouse(settings), args.tenant)]
    show(rows, as_json=args.json, table=keys_table,
         empty=f"no keys for tenant {args.tenant}" if args.tenant
         else "no keys yet: cxpulse keys create --tenant T --scope write")
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    parts = split_key(args.id)  # the whole key text works too; only its id is used
    key_id = parts[0] if parts else args.id.strip()
    warehouse = _warehouse(settings)
    found = [key for key in list_keys(warehouse) if key.id == key_id]
    if not found:
        raise ValueError(f"no key with id {key_id!r} (cxpulse keys list shows the ids)")
    if found[0].revoked_at is not None:
        when = format_time(found[0].revoked_at * 1000, millis=False)
        say(f"key {key_id} was already revoked at {when}")
        return 0
    revoked = revoke_key(warehouse, key_id, int(time.time())) or found[0]
    when = format_time((revoked.revoked_at or 0) * 1000, millis=False)
    say(f"revoked {revoked.scope} key {key_id} for {_owner(revoked)} at {when}: every collector "
        f"refuses it within {REVOKE_SECONDS} s")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """``cxpulse keys create|list|revoke``, with each action's own flags."""
    keys = sub.add_parser("keys", help="per-tenant API keys for the collector and the read "
                          "API: create (shown once), list, revoke")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a key; prints it once on stdout")
    create.add_argument("--tenant", help="the tenant the key acts for (not with --scope admin)")
    create.add_argument("--scope", required=True, choices=["write", "read", "admin"],
                        help="write: send events; read: the /v1 read API; admin: both, "
                        "every tenant")
    create.add_argument("--name", default="", help="what the key is for, e.g. 'web widget'")
    create.add_argument("--json", action="store_true",
                        help="print the key with its record as a JSON object")
    create.set_defaults(func=cmd_create)
    listing = actions.add_parser("list", help="every key, oldest first (no secrets, no hashes)")
    listing.add_argument("--tenant", help="only this tenant's keys")
    listing.add_argument("--json", action="store_true", help="a JSON array")
    listing.set_defaults(func=cmd_list)
    revoke = actions.add_parser("revoke", help=f"revoke a key: collectors refuse it within "
                                f"{REVOKE_SECONDS} s")
    revoke.add_argument("id", help="the key id (from create or list)")
    revoke.set_defaults(func=cmd_revoke)
