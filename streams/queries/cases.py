"""Follow-up cases that need a call now, and the record of ``case_opened`` notifications.

Cases are written by ``scoring.store_facts``; here they are read. A case is
unmet while its highest version is 0 (``core.cases.case_version``); grouping by
the key and keeping ``max(version) = 0`` reads that on both engines without
relying on how FINAL and WHERE interact. Whether an unmet case is open or
overdue is decided in Python by ``core.cases.case_state``, to the millisecond.
"""

from __future__ import annotations

import time
from typing import Any

from streams.core.cases import case_state
from streams.core.units import format_time
from streams.queries.scoring import query_in
from streams.warehouse import Warehouse
from streams.warehouse.sql import sql_literal


def unmet_cases(warehouse: Warehouse, *, now_ms: int, tenant: str | None = None,
                overdue_only: bool = False) -> list[dict[str, Any]]:
    """Open and overdue cases, oldest first; times as RFC 3339 UTC, ``overdue_seconds``
    None while open."""
    where = f"WHERE tenant = {sql_literal(tenant)} " if tenant else ""
    rows = warehouse.query(
        "SELECT tenant, feedback_id, any(channel) AS channel, any(touchpoint) AS touchpoint, "
        "any(customer_id) AS customer_id, any(survey) AS survey, any(score) AS score, "
        "any(scale) AS scale, any(comment) AS comment, "
        "toUInt64(toUnixTimestamp(any(opened_at))) * 1000 + any(opened_ms) AS opened, "
        "toUInt64(toUnixTimestamp(any(due_at))) * 1000 + any(opened_ms) AS due "
        f"FROM {warehouse.database}.followup_cases {where}"
        "GROUP BY tenant, feedback_id HAVING max(version) = 0 ORDER BY opened, feedback_id")
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


def notified(warehouse: Warehouse, event_ids: list[str]) -> set[str]:
    """Which of these feedback event ids already had their ``case_opened`` sent."""
    return {row["event_id"] for row in query_in(warehouse, event_ids, lambda values: (
        f"SELECT DISTINCT event_id FROM {warehouse.database}.notifications "
        f"WHERE event_id IN {values}"))}


def record_notified(warehouse: Warehouse, messages: dict[str, bytes], kind: str) -> None:
    """Remember the messages sent (payload by feedback event id), so none is sent twice."""
    now = int(time.time())
    warehouse.insert("notifications",
                     [(event_id, kind, now, payload) for event_id, payload in messages.items()],
                     ("event_id", "type", "sent_at", "payload"))
