"""``cx.incidents``: what the leader records after its alert pass, and what the reads list.

Rows are versions (``ReplacingMergeTree(version)``); reads use FINAL, so a replayed
or repeated write changes nothing and the newest version of each incident wins. Filters
on columns outside the sorting key (state, times) apply outside FINAL: inside, they could
pick an older version (an open one of an incident since resolved).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from streams.core.incidents import INCIDENT_COLUMNS, OPEN, TIMES, Incident, document
from streams.core.stats import ALL, Scope
from streams.warehouse import Warehouse
from streams.warehouse.sql import sql_literal

STORED_COLUMNS: Final = (*INCIDENT_COLUMNS, "attribution", "evidence")
_SELECT: Final = ", ".join(
    f"toUnixTimestamp({c}) AS {c}" if c in TIMES else c for c in STORED_COLUMNS)


def record(warehouse: Warehouse, incidents: list[Incident],
           details: Mapping[str, tuple[dict[str, Any] | None, dict[str, Any] | None]]
           | None = None) -> None:
    """Write these incident versions; ``details``: id -> (attribution, evidence) documents."""
    rows = []
    for incident in incidents:
        attribution, evidence = (details or {}).get(incident.id, (None, None))
        row = list(incident.row())
        row[INCIDENT_COLUMNS.index("metrics")] = list(incident.metrics)
        rows.append((*row, json.dumps(attribution or {}, sort_keys=True),
                     json.dumps(evidence or {}, sort_keys=True)))
    warehouse.insert("incidents", rows, STORED_COLUMNS)


Stored = tuple[int, dict[str, Any] | None, dict[str, Any] | None]
"""(version, attribution, evidence) of an incident's newest stored row."""


def stored(warehouse: Warehouse, *, since_s: int) -> dict[str, Stored]:
    """id -> the newest stored version of the incidents open or updated since ``since_s``:
    what a pass compares with (it writes only new versions) and carries over."""
    rows = warehouse.query(
        f"SELECT id, version, attribution, evidence FROM (SELECT id, version, attribution, "
        f"evidence, updated_at, state FROM {warehouse.database}.incidents FINAL) "
        f"WHERE updated_at >= toDateTime({int(since_s)}) OR state = '{OPEN}'")
    return {row["id"]: (int(row["version"]), json.loads(row["attribution"] or "{}") or None,
                        json.loads(row["evidence"] or "{}") or None) for row in rows}


def _inside(scope: Scope, start_s: int, end_s: int, column: str) -> str:
    tenant, channel, touchpoint = scope
    where = [f"tenant = {sql_literal(tenant)}",
             f"{column} >= toDateTime({int(start_s)})", f"{column} < toDateTime({int(end_s)})"]
    where += [f"{name} = {sql_literal(value)}" for name, value in
              (("channel", channel), ("touchpoint", touchpoint)) if value != ALL]
    return " AND ".join(where)


_OVERFETCH: Final = 10
"""Rows read per verbatim wanted: the same words said twice are shown once."""


def _distinct(said: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` comments with different words, in order."""
    seen: set[str] = set()
    return [c for c in said if not (c["comment"] in seen or seen.add(c["comment"]))][:limit]


def answers(warehouse: Warehouse, scope: Scope, *, start_s: int, end_s: int, limit: int,
            skip: set[str]) -> list[dict[str, Any]]:
    """The commented answers of the scope in [start, end) with the worst scores (each on
    its own scale, 0 worst .. 1 best), masked as stored, language from the locale: the
    verbatims when the comment enrichment is off or has not reached the incident yet."""
    rows = warehouse.query(
        f"SELECT event_id, channel, touchpoint, comment, locale FROM (SELECT event_id, "
        f"channel, touchpoint, comment, locale, survey, score, scale "
        f"FROM {warehouse.database}.feedback FINAL "
        f"WHERE {_inside(scope, start_s, end_s, 'occurred_at')}) WHERE comment != '' "
        f"ORDER BY multiIf(survey = 'nps', score / 10, survey = 'csat', "
        f"(score - 1) / greatest(scale - 1, 1), (score - 1) / 6), event_id "
        f"LIMIT {int(limit) * _OVERFETCH + len(skip)}")
    return _distinct([{"channel": row["channel"], "touchpoint": row["touchpoint"],
                       "comment": row["comment"], "language": row["locale"].split("-")[0],
                       "themes": [], "sentiment": None}
                      for row in rows if row["event_id"] not in skip], limit)


def evidence(warehouse: Warehouse, scope: Scope, *, start_s: int, end_s: int,
             comments: int = 3) -> dict[str, Any]:
    """What a CX lead reads beside the numbers: the most negative comments of the scope in
    [start, end) (masked when stored, with language and themes; the worst-scored answers'
    comments make up the number when fewer are enriched), the follow-up cases opened there
    and the customers who failed or were unhappy there (a failed interaction or a case)."""
    rows = warehouse.query(
        f"SELECT event_id, channel, touchpoint, comment, language, themes, sentiment "
        f"FROM {warehouse.database}.comment_insights FINAL "
        f"WHERE comment != '' AND {_inside(scope, start_s, end_s, 'occurred_at')} "
        f"ORDER BY sentiment, event_id LIMIT {int(comments) * _OVERFETCH}")
    cases = warehouse.query(
        f"SELECT uniqExact(feedback_id) AS cases FROM {warehouse.database}.followup_cases "
        f"WHERE {_inside(scope, start_s, end_s, 'opened_at')}")
    customers = warehouse.query(
        f"SELECT uniqExact(customer_id) AS customers FROM ("
        f"SELECT customer_id FROM {warehouse.database}.interactions WHERE outcome = 'failure' "
        f"AND {_inside(scope, start_s, end_s, 'occurred_at')} UNION ALL "
        f"SELECT customer_id FROM {warehouse.database}.followup_cases "
        f"WHERE {_inside(scope, start_s, end_s, 'opened_at')}) WHERE customer_id != ''")
    said = _distinct([{"channel": row["channel"], "touchpoint": row["touchpoint"],
                       "comment": row["comment"], "language": row["language"],
                       "themes": list(row["themes"]),
                       "sentiment": round(float(row["sentiment"]), 3)} for row in rows], comments)
    if len(said) < comments:  # enrichment off or behind: the worst-scored answers' words
        said = _distinct(said + answers(warehouse, scope, start_s=start_s, end_s=end_s,
                                        limit=comments, skip={row["event_id"] for row in rows}),
                         comments)
    return {"comments": said,
            "cases": int(cases[0]["cases"]) if cases else 0,
            "customers": int(customers[0]["customers"]) if customers else 0}


def listing(warehouse: Warehouse, *, since_s: int = 0, open_only: bool = False,
            tenant: str | None = None) -> list[dict[str, Any]]:
    """Incidents updated since ``since_s`` (and every open one), newest opened first, as
    JSON-ready rows (times in RFC 3339): ``cxpulse incidents --json`` and /v1/incidents."""
    only = f"WHERE tenant = {sql_literal(tenant)} " if tenant is not None else ""
    rows = warehouse.query(
        f"SELECT * FROM (SELECT {_SELECT} FROM {warehouse.database}.incidents FINAL {only}) "
        f"WHERE updated_at >= {int(since_s)} OR state = '{OPEN}' "
        "ORDER BY opened_at DESC, tenant, id")
    out = []
    for row in rows:
        if open_only and row["state"] != OPEN:
            continue
        item = document(row, json.loads(row["attribution"] or "{}"),
                        json.loads(row["evidence"] or "{}"))
        out.append(item)
    return out
