"""Follow-up cases that need a call now, and the record of the notifications sent.

Cases are written by ``scoring.store_facts``; here they are read. A case is
unmet while the part of its highest version below the revision is 0
(``core.cases.case_version``) and that row is not withdrawn; grouping by the key
and reading the highest version's row with ``argMax`` does that on both engines
without relying on how FINAL and WHERE interact. Whether an unmet case is open or
overdue is decided in Python by ``core.cases.case_state``, to the millisecond.
"""

from __future__ import annotations

import time
from typing import Any

from streams.core.cases import REVISION_SHIFT, case_state
from streams.core.triggers import Notice, Sent
from streams.core.units import format_time
from streams.queries.scoring import query_in
from streams.warehouse import Warehouse
from streams.warehouse.sql import sql_literal


def unmet_cases(warehouse: Warehouse, *, now_ms: int, tenant: str | None = None,
                overdue_only: bool = False) -> list[dict[str, Any]]:
    """Open and overdue cases, oldest first; times as RFC 3339 UTC, ``overdue_seconds``
    None while open."""
    where = f"WHERE tenant = {sql_literal(tenant)} " if tenant else ""
    latest = {column: f"argMax({column}, version)" for column in (
        "channel", "touchpoint", "customer_id", "survey", "score", "scale", "comment",
        "opened_ms", "withdrawn")}
    rows = warehouse.query(
        "SELECT tenant, feedback_id, "
        + "".join(f"{value} AS {column}, " for column, value in latest.items() if
                  column not in ("opened_ms", "withdrawn"))
        + f"toUInt64(toUnixTimestamp(argMax(opened_at, version))) * 1000 "
        f"+ {latest['opened_ms']} AS opened, "
        f"toUInt64(toUnixTimestamp(argMax(due_at, version))) * 1000 "
        f"+ {latest['opened_ms']} AS due "
        f"FROM {warehouse.database}.followup_cases {where}"
        "GROUP BY tenant, feedback_id "
        f"HAVING bitAnd(max(version), {(1 << REVISION_SHIFT) - 1}) = 0 "
        f"AND {latest['withdrawn']} = 0 ORDER BY opened, feedback_id")
    cases = []
    for row in rows:
        opened_ms, due_ms = int(row["opened"]), int(row["due"])
        state = case_state(False, due_ms, now_ms)
        if overdue_only and state != "overdue":
            continue
        cases.append({
            "tenant": row["tenant"], "channel": row["channel"], "touchpoint": row["touchpoint"],
            "feedback_id": row["feedback_id"], "customer_id": row["customer_id"],
            "survey": row["survey"], "score": int(row["score"]),
            "scale": int(row["scale"]) or None, "comment": row["comment"],
            "opened_at": format_time(opened_ms), "due_at": format_time(due_ms), "state": state,
            "overdue_seconds": (now_ms - due_ms) // 1000 if state == "overdue" else None})
    return cases


def notified(warehouse: Warehouse, event_ids: list[str]) -> dict[str, Sent]:
    """What was sent for these feedback event ids: (highest revision, its message type)."""
    return {row["event_id"]: (int(row["last_revision"]), row["kind"])
            for row in query_in(warehouse, event_ids, lambda values: (
                f"SELECT event_id, max(revision) AS last_revision, argMax(type, revision) AS kind "
                f"FROM {warehouse.database}.notifications WHERE event_id IN {values} "
                "GROUP BY event_id"))}


def record_notified(warehouse: Warehouse, notices: list[Notice]) -> None:
    """Remember the messages sent (one row per event id and revision), so none is sent
    twice."""
    now = int(time.time())
    warehouse.insert("notifications",
                     [(event_id, revision, kind, now, payload)
                      for event_id, revision, kind, payload in notices],
                     ("event_id", "revision", "type", "sent_at", "payload"))
