"""The migration lock: a table ``schema_migrations_lock`` that one migrator creates.

Creating a table is atomic on every engine and version we support, so the one
whose CREATE succeeds holds the lock; it writes who it is (host, pid, since) into
it, for ``cxpulse migrate --status`` and for the next migrator: a holder on the
same host whose process is gone (a migrator killed with SIGKILL) left a stale lock,
which the next one moves aside and takes. A holder elsewhere cannot be checked,
so the waiter names it and how to clear it.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.warehouse import Warehouse, WarehouseError
from streams.warehouse.resume import columns, exists

LOCK = "schema_migrations_lock"


def _on(cluster: str | None) -> str:
    return f" ON CLUSTER '{cluster}'" if cluster else ""


def holder(warehouse: Warehouse, name: str = LOCK) -> dict[str, Any] | None:
    """Who holds the lock: {} when held by a migrator that did not say (yet), None if free."""
    table = f"{warehouse.database}.{name}"
    if not exists(warehouse, table):
        return None
    try:
        if "pid" not in columns(warehouse, table):
            return {}  # a lock taken by a cxpulse that did not record its holder
        rows = warehouse.query(f"SELECT host, pid, toUnixTimestamp(since) AS since, command "
                               f"FROM {table}")
    except WarehouseError:
        return {}  # dropped or being created right now
    if not rows:
        return {}
    row = rows[0]
    return {"host": row["host"], "pid": int(row["pid"]), "since": int(row["since"]),
            "command": row["command"]}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(found: dict[str, Any] | None) -> bool:
    return bool(found) and found["host"] == socket.gethostname() and not _alive(found["pid"])


def describe(found: dict[str, Any] | None) -> str:
    if found is None:
        return "free"
    if not found:
        return "held (the holder has not recorded itself)"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(found["since"]))
    return f"held by pid {found['pid']} on {found['host']} since {since} UTC ({found['command']})"


def command() -> str:
    """This process's command, program and subcommands (``cxpulse worker start``, ``cxpulse
    migrate``): every migrator records what it really is. Options are left out (a value
    may be a secret)."""
    words = [Path(sys.argv[0]).name] if sys.argv and sys.argv[0] else ["python"]
    for word in sys.argv[1:4]:
        if word.startswith("-"):
            break
        words.append(word)
    return " ".join(words)


def take(warehouse: Warehouse, wait_s: float, still_needed: Callable[[], bool],
         cluster: str | None = None) -> bool:
    """Hold the lock (on every node of a cluster, so workers on different shards take turns);
    False if ``still_needed`` says the work was done by another meanwhile."""
    table = f"{warehouse.database}.{LOCK}"
    deadline = time.monotonic() + wait_s
    while True:
        try:
            warehouse.execute(f"CREATE TABLE {table}{_on(cluster)} (host String, pid UInt32, "
                              "since DateTime('UTC'), command String) ENGINE = TinyLog")
        except WarehouseError as error:
            if "exist" not in str(error).lower():
                raise
        else:
            try:
                warehouse.insert(LOCK, [(socket.gethostname(), os.getpid(), int(time.time()),
                                         command())], ("host", "pid", "since", "command"))
            except BaseException:
                release(warehouse, cluster)
                raise
            return True
        if not still_needed():
            return False
        found = holder(warehouse)
        if _stale(found):
            _clear_stale(warehouse, found, cluster)
            continue
        if time.monotonic() > deadline:
            raise WarehouseError(
                f"the schema lock {table} is {describe(found)} and was not released in "
                f"{wait_s:.0f} s; `cxpulse migrate --status` shows it. If that migrator is gone, "
                f"DROP TABLE {table} and run `cxpulse migrate` again")
        time.sleep(0.5)


def _clear_stale(warehouse: Warehouse, found: dict[str, Any], cluster: str | None) -> None:
    """Move a dead holder's lock aside; if another waiter took it over meanwhile (the lock
    moved is not the dead one), put it back."""
    aside = f"{LOCK}_stale_{os.getpid()}"
    db = warehouse.database
    try:
        warehouse.execute(f"RENAME TABLE {db}.{LOCK} TO {db}.{aside}{_on(cluster)}")
    except WarehouseError:
        return  # another waiter moved it first
    moved = holder(warehouse, aside)
    if moved and moved["pid"] == found["pid"] and moved["since"] == found["since"]:
        warehouse.execute(f"DROP TABLE IF EXISTS {db}.{aside}{_on(cluster)}")
        return
    try:
        warehouse.execute(f"RENAME TABLE {db}.{aside} TO {db}.{LOCK}{_on(cluster)}")
    except WarehouseError:
        warehouse.execute(f"DROP TABLE IF EXISTS {db}.{aside}{_on(cluster)}")


def release(warehouse: Warehouse, cluster: str | None = None) -> None:
    warehouse.execute(f"DROP TABLE IF EXISTS {warehouse.database}.{LOCK}{_on(cluster)}")
