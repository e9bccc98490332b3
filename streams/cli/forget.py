"""``cxpulse forget``: erase one customer of one tenant everywhere, scores kept exact.

The audit row holds the customer only as an HMAC with the deployment's erasure salt:
``CX_ERASURE_SALT``, else a random salt made once and kept (mode 0600) in
``CX_DATA_DIR/erasure_salt``. Set ``CX_ERASURE_SALT`` where several machines run
``forget``, so every audit row of one customer carries the same hash. With
``CX_CUSTOMER_ID_HASH`` the id given is pseudonymised as the ingest does, then erased.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import time
from pathlib import Path
from typing import Any

import orjson

from streams.config import ConfigError, Settings
from streams.console import say
from streams.core.contract import check_tenant
from streams.core.erasure import customer_hash, salt_id
from streams.queries.erasure import forget, record
from streams.warehouse import connect
from streams.warehouse.migrate import migrate

SALT_FILE = "erasure_salt"


def erasure_salt(settings: Settings) -> bytes:
    """``CX_ERASURE_SALT``, or the salt kept in the data directory (made on first use)."""
    if settings.erasure_salt:
        return settings.erasure_salt.encode()
    path = Path(settings.data_dir) / SALT_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another forget made it first
            pass
        else:
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
    salt = path.read_text().strip()
    if not salt:
        raise ConfigError(f"{path} is empty: restore the erasure salt or set CX_ERASURE_SALT")
    return salt.encode()


def _operator(name: str | None) -> str:
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    tenant = check_tenant(args.tenant)
    customer = args.customer
    if not customer or len(customer) > 128:
        raise ValueError("--customer must be a customer id of 1 to 128 characters")
    salt = erasure_salt(settings)  # before any change: a bad salt stops here
    warehouse = connect(settings.warehouse_url)
    migrate(warehouse, settings.clickhouse_cluster)  # checks a cluster's settings first
    started = time.monotonic()
    pseudonym = settings.pseudonym()  # CX_CUSTOMER_ID_HASH: the id is stored as its pseudonym
    stored = pseudonym(customer) if pseudonym else customer
    counts = forget(warehouse, tenant, stored, deadline_ms=settings.followup_deadline_ms,
                    dry_run=args.dry_run, progress=say, cluster=settings.clickhouse_cluster)
    total = sum(counts.values())
    out: dict[str, Any] = {"tenant": tenant, "dry_run": args.dry_run, "counts": counts,
                           "rows": total, "audit_id": None}
    if not args.dry_run and total:
        out["audit_id"] = record(warehouse, tenant=tenant,
                                 customer_hash=customer_hash(salt, tenant, customer),
                                 salt_id=salt_id(salt), operator=_operator(args.operator),
                                 key_id="", counts=counts)
    if args.json:
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    else:
        verb = "would remove" if args.dry_run else "removed"
        for table, rows in counts.items():
            print(f"{table:<20}{rows:>10}")
        print(f"{'total':<20}{total:>10}")
        say(f"{verb} {total} rows of the customer of tenant {tenant} in "
            f"{time.monotonic() - started:.1f} s"
            + (f" (audit {out['audit_id']} in {warehouse.database}.erasures)"
               if out["audit_id"] else ""))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    forget_ = sub.add_parser(
        "forget", help="erase one customer of one tenant everywhere (raw events, revisions, "
        "follow-ups, comments, cases, notifications, dead letters), scores kept exact")
    forget_.add_argument("--tenant", required=True)
    forget_.add_argument("--customer", required=True, help="the customer id as sent")
    forget_.add_argument("--dry-run", action="store_true",
                         help="count what would be removed per table, change nothing")
    forget_.add_argument("--operator", help="who asks, for the audit row (default: the OS "
                         "user)")
    forget_.add_argument("--json", action="store_true", help="print the counts as JSON")
    forget_.set_defaults(func=cmd_forget)
