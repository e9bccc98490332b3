"""Keep ``score_minutes`` exact: store each batch's facts, then recompute the touched minutes.

ClickHouse is the scoring state. Facts are keyed by event id and minute sums
are absolute values with a growing version, so every step is idempotent: a
replay after a crash, a duplicate from a producer, a late event or a second
worker touching the same minute all converge on the sum of the deduplicated
facts. A follow-up and its feedback may arrive in any order on any worker:
each side is written before the other is looked up, so whichever comes last
sees both and marks the feedback met.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from streams.contract import ValidEvent
from streams.facts import CLOSING_ACTIONS, Answer, Fact, answer_of, in_time, interaction_fact
from streams.stats import STAT_COLUMNS, Stats
from streams.warehouse import Warehouse
from streams.warehouse.sql import in_list

MinuteKey = tuple[str, str, str, int]
"""(tenant, channel, touchpoint, minute as epoch seconds)."""

_OCCURRED_MS = "toUInt64(toUnixTimestamp(occurred_at)) * 1000 + occurred_ms"


def _chunks(items: list[Any], size: int = 2000) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _stored_answers(warehouse: Warehouse, ids: list[str]) -> dict[str, Answer]:
    """Feedback already in the raw table, by event id (a follow-up's target)."""
    found: dict[str, Answer] = {}
    db = warehouse.database
    for chunk in _chunks(ids):
        for row in warehouse.query(
                f"SELECT event_id, tenant, channel, touchpoint, {_OCCURRED_MS} AS at_ms, survey, "
                f"score, scale FROM {db}.feedback WHERE event_id IN {in_list(chunk)} "
                "LIMIT 1 BY event_id"):
            found[row["event_id"]] = Answer(
                row["event_id"], (row["tenant"], row["channel"], row["touchpoint"]),
                int(row["at_ms"]), row["survey"], int(row["score"]), int(row["scale"]))
    return found


def _first_closing_followups(warehouse: Warehouse, feedback_ids: list[str]) -> dict[str, int]:
    """Earliest contacted/resolved follow-up time per feedback id, from the raw table."""
    found: dict[str, int] = {}
    db = warehouse.database
    for chunk in _chunks(feedback_ids):
        for row in warehouse.query(
                f"SELECT feedback_id, min({_OCCURRED_MS}) AS at_ms FROM {db}.followups "
                f"WHERE feedback_id IN {in_list(chunk)} AND action IN {in_list(CLOSING_ACTIONS)} "
                "GROUP BY feedback_id"):
            found[row["feedback_id"]] = int(row["at_ms"])
    return found


def batch_facts(warehouse: Warehouse, events: list[ValidEvent], deadline_ms: int) -> list[Fact]:
    """The facts a batch adds or changes; its raw rows must already be written."""
    facts: list[Fact] = []
    answers: list[Answer] = []
    followups: list[tuple[str, int]] = []
    for event in events:
        if event.type == "interaction":
            facts.append(interaction_fact(event))
        elif event.type == "feedback":
            answers.append(answer_of(event))
        elif event.fields["action"] in CLOSING_ACTIONS:
            followups.append((event.fields["feedback_id"], event.occurred_ms))
    unhappy = sorted({a.event_id for a in answers if a.needs_followup})
    first_followup = _first_closing_followups(warehouse, unhappy) if unhappy else {}
    for answer in answers:
        at = first_followup.get(answer.event_id)
        facts.append(answer.fact(met=at is not None and in_time(answer.occurred_ms, at,
                                                                 deadline_ms)))
    targets = _stored_answers(warehouse, sorted({fid for fid, _ in followups})) if followups else {}
    for feedback_id, at in followups:
        answer = targets.get(feedback_id)
        if answer and answer.needs_followup and in_time(answer.occurred_ms, at, deadline_ms):
            facts.append(answer.fact(met=True))
    return facts


def recompute(warehouse: Warehouse, keys: list[MinuteKey]) -> list[dict[str, Any]]:
    """Absolute sums of the stored facts for these scope-minutes, versioned."""
    db = warehouse.database
    sums = ", ".join(f"sum({column}) AS {column}" for column in STAT_COLUMNS)
    rows: list[dict[str, Any]] = []
    now = int(time.time())
    for chunk in _chunks(keys, 1000):
        for row in warehouse.query(
                f"SELECT tenant, channel, touchpoint, toUnixTimestamp(minute) AS minute, {sums}, "
                f"count() AS facts FROM {db}.score_facts FINAL "
                f"WHERE (tenant, channel, touchpoint, toUnixTimestamp(minute)) IN {in_list(chunk)} "
                "GROUP BY tenant, channel, touchpoint, minute"):
            stats = Stats.from_dict(row)
            rows.append({"tenant": row["tenant"], "channel": row["channel"],
                         "touchpoint": row["touchpoint"], "minute": int(row["minute"]),
                         **stats.as_dict(), "version": int(row["facts"]) + stats.followup_met,
                         "computed_at": now})
    return rows


def score_batch(warehouse: Warehouse, events: list[ValidEvent], deadline_ms: int) -> int:
    """Store the batch's facts and rewrite the minutes they touch; returns that count."""
    facts = batch_facts(warehouse, events, deadline_ms)
    if not facts:
        return 0
    warehouse.insert("score_facts", [fact.row() for fact in facts])
    keys = sorted({(*fact.scope, fact.minute_ms // 1000) for fact in facts})
    minutes = recompute(warehouse, keys)
    warehouse.insert("score_minutes", minutes)
    return len(minutes)
