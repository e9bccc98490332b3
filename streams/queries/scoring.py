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
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from streams.core.contract import ValidEvent
from streams.core.facts import (
    CLOSING_ACTIONS,
    FACT_COLUMNS,
    Answer,
    FactRow,
    answer_of,
    in_time,
    interaction_fact,
)
from streams.core.stats import STAT_COLUMNS
from streams.queries.windows import STAT_SUMS, stats_of_sums
from streams.warehouse import Warehouse
from streams.warehouse.sql import OCCURRED_MS, in_list

MinuteKey = tuple[str, str, str, int]
"""(tenant, channel, touchpoint, minute as epoch seconds)."""

def _utc(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def _chunks(items: list[Any], size: int = 2000) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _query_in(warehouse: Warehouse, values: list[Any],
              sql: Callable[[str], str]) -> Iterator[dict[str, Any]]:
    """Run ``sql(in_list)`` over chunks of ``values`` (keeps each query a sane size)."""
    for chunk in _chunks(values):
        yield from warehouse.query(sql(in_list(chunk)))


def _stored_answers(warehouse: Warehouse, ids: list[str]) -> dict[str, Answer]:
    """Feedback already in the raw table, by event id (a follow-up's target)."""
    rows = _query_in(warehouse, ids, lambda values: (
        f"SELECT event_id, tenant, channel, touchpoint, {OCCURRED_MS} AS at_ms, survey, score, "
        f"scale FROM {warehouse.database}.feedback WHERE event_id IN {values} "
        "LIMIT 1 BY event_id"))
    return {row["event_id"]: Answer(row["event_id"],
                                    (row["tenant"], row["channel"], row["touchpoint"]),
                                    int(row["at_ms"]), row["survey"], int(row["score"]),
                                    int(row["scale"])) for row in rows}


def _first_closing_followups(warehouse: Warehouse, feedback_ids: list[str]) -> dict[str, int]:
    """Earliest contacted/resolved follow-up time per feedback id, from the raw table."""
    rows = _query_in(warehouse, feedback_ids, lambda values: (
        f"SELECT feedback_id, min({OCCURRED_MS}) AS at_ms FROM {warehouse.database}.followups "
        f"WHERE feedback_id IN {values} AND action IN {in_list(CLOSING_ACTIONS)} "
        "GROUP BY feedback_id"))
    return {row["feedback_id"]: int(row["at_ms"]) for row in rows}


def batch_facts(warehouse: Warehouse, events: list[ValidEvent], deadline_ms: int
                ) -> list[FactRow]:
    """The facts a batch adds or changes; its raw rows must already be written."""
    facts: list[FactRow] = []
    answers: list[Answer] = []
    followups: list[tuple[str, int]] = []
    for valid in events:
        kind = valid.type
        if kind == "interaction":
            facts.append(interaction_fact(valid))
        elif kind == "feedback":
            answers.append(answer_of(valid))
        elif valid.event.action in CLOSING_ACTIONS:  # type: ignore[union-attr]
            followups.append((valid.event.feedback_id, valid.occurred_ms))  # type: ignore[union-attr]
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


MINUTE_COLUMNS = ("tenant", "channel", "touchpoint", "minute", *STAT_COLUMNS, "version",
                  "computed_at")


def recompute(warehouse: Warehouse, keys: list[MinuteKey]) -> list[tuple[Any, ...]]:
    """Absolute sums of the stored facts for these scope-minutes, versioned (``MINUTE_COLUMNS``)."""
    now = int(time.time())
    rows = []
    # Minutes as 'YYYY-MM-DD hh:mm:ss' literals so the IN matches the primary key itself
    # (a function of `minute` there would make ClickHouse scan the whole table).
    literal_keys = [(*scope, _utc(minute)) for *scope, minute in keys]
    for row in _query_in(warehouse, literal_keys, lambda values: (
            f"SELECT tenant, channel, touchpoint, toUnixTimestamp(minute) AS minute_s, "
            f"{STAT_SUMS}, count() AS facts FROM {warehouse.database}.score_facts FINAL "
            f"WHERE (tenant, channel, touchpoint, minute) IN {values} "
            "GROUP BY tenant, channel, touchpoint, minute")):
        stats = stats_of_sums(row)
        rows.append((row["tenant"], row["channel"], row["touchpoint"], int(row["minute_s"]),
                     *stats.as_dict().values(), int(row["facts"]) + stats.followup_met, now))
    return rows


def store_facts(warehouse: Warehouse, events: list[ValidEvent], deadline_ms: int
                ) -> set[MinuteKey]:
    """Store a batch's facts (its raw rows already written); return the minutes they touch."""
    facts = batch_facts(warehouse, events, deadline_ms)
    if facts:
        warehouse.insert("score_facts", facts, FACT_COLUMNS)
    return {fact[:4] for fact in facts}


def rewrite_minutes(warehouse: Warehouse, keys: set[MinuteKey]) -> int:
    """Recompute these scope-minutes from the stored facts and write them; returns the count."""
    if not keys:
        return 0
    minutes = recompute(warehouse, sorted(keys))
    warehouse.insert("score_minutes", minutes, MINUTE_COLUMNS)
    return len(minutes)


def score_batch(warehouse: Warehouse, events: list[ValidEvent], deadline_ms: int) -> int:
    """Store the batch's facts and rewrite the minutes they touch; returns that count."""
    return rewrite_minutes(warehouse, store_facts(warehouse, events, deadline_ms))
