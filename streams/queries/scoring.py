"""Keep ``score_minutes`` exact: store each batch's facts, then recompute the touched minutes.

ClickHouse is the scoring state. Facts are keyed by event id and minute sums
are absolute values with a growing version, so every step is idempotent: a
replay after a crash, a duplicate from a producer, a late event or a second
worker touching the same minute all converge on the sum of the deduplicated
facts. A follow-up and its feedback may arrive in any order on any worker:
each side is written before the other is looked up, so whichever comes last
sees both and marks the feedback met. The same lookup writes the follow-up
cases (``core.cases``), versioned so the earliest in-time follow-up wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from streams.core.cases import CASE_COLUMNS, CaseRow, Closing, case_row, met_by
from streams.core.contract import ValidEvent
from streams.core.facts import (
    CLOSING_ACTIONS,
    FACT_COLUMNS,
    Answer,
    FactRow,
    answer_of,
    interaction_fact,
)
from streams.core.stats import STAT_COLUMNS
from streams.queries.windows import STAT_SUMS, stats_of_sums
from streams.warehouse import Warehouse
from streams.warehouse.sql import OCCURRED_MS, in_list, sql_literal

MinuteKey = tuple[str, str, str, int]
"""(tenant, channel, touchpoint, minute as epoch seconds)."""

def _utc(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def _chunks(items: list[Any], size: int = 2000) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def query_in(warehouse: Warehouse, values: list[Any],
             sql: Callable[[str], str]) -> Iterator[dict[str, Any]]:
    """Run ``sql(in_list)`` over chunks of ``values`` (keeps each query a sane size)."""
    for chunk in _chunks(values):
        yield from warehouse.query(sql(in_list(chunk)))


def _stored_answers(warehouse: Warehouse, ids: list[str]) -> dict[str, Answer]:
    """Feedback already in the raw table, by event id (a follow-up's target)."""
    rows = query_in(warehouse, ids, lambda values: (
        f"SELECT event_id, tenant, channel, touchpoint, {OCCURRED_MS} AS at_ms, survey, score, "
        f"scale, customer_id, comment FROM {warehouse.database}.feedback "
        f"WHERE event_id IN {values} LIMIT 1 BY event_id"))
    return {row["event_id"]: Answer(row["event_id"],
                                    (row["tenant"], row["channel"], row["touchpoint"]),
                                    int(row["at_ms"]), row["survey"], int(row["score"]),
                                    int(row["scale"]), row["customer_id"], row["comment"])
            for row in rows}


# The order of ``closing_rank``, in SQL: the earliest, then the first action of CLOSING_ACTIONS.
_CLOSING_RANK = f"2 * ({OCCURRED_MS}) + indexOf({sql_literal(list(CLOSING_ACTIONS))}, action) - 1"


def _first_closing_followups(warehouse: Warehouse, feedback_ids: list[str]
                             ) -> dict[str, Closing]:
    """The first closing follow-up (``closing_rank``) per feedback id, from the raw table."""
    rows = query_in(warehouse, feedback_ids, lambda values: (
        f"SELECT feedback_id, min({OCCURRED_MS}) AS at_ms, "
        f"argMin(action, {_CLOSING_RANK}) AS first_action FROM {warehouse.database}.followups "
        f"WHERE feedback_id IN {values} AND action IN {in_list(CLOSING_ACTIONS)} "
        "GROUP BY feedback_id"))
    return {row["feedback_id"]: (int(row["at_ms"]), row["first_action"]) for row in rows}


def batch_facts(warehouse: Warehouse, events: list[ValidEvent], deadline_ms: int
                ) -> tuple[list[FactRow], list[CaseRow]]:
    """The facts and follow-up cases a batch adds or changes; its raw rows must be written.

    One lookup serves both: each feedback of the batch needing follow-up, and each
    stored feedback a closing follow-up of the batch points at, is joined with its
    first closing follow-up in the raw table (the batch's own included).
    """
    facts: list[FactRow] = []
    answers: dict[str, Answer] = {}
    targets: set[str] = set()
    for valid in events:
        kind = valid.type
        if kind == "interaction":
            facts.append(interaction_fact(valid))
        elif kind == "feedback":
            answer = answer_of(valid)
            answers[answer.event_id] = answer
        elif valid.event.action in CLOSING_ACTIONS:  # type: ignore[union-attr]
            targets.add(valid.event.feedback_id)  # type: ignore[union-attr]
    unhappy = {key: answer for key, answer in answers.items() if answer.needs_followup}
    facts += [answer.fact(met=False) for answer in answers.values() if not answer.needs_followup]
    stored = targets - answers.keys()
    if stored:
        unhappy |= {key: answer for key, answer in _stored_answers(warehouse, sorted(stored))
                    .items() if answer.needs_followup}
    first = _first_closing_followups(warehouse, sorted(unhappy)) if unhappy else {}
    cases = []
    for key, answer in unhappy.items():
        met = met_by(answer, first.get(key), deadline_ms)
        facts.append(answer.fact(met=met is not None))
        cases.append(case_row(answer, met, deadline_ms))
    return facts, cases


MINUTE_COLUMNS = ("tenant", "channel", "touchpoint", "minute", *STAT_COLUMNS, "version",
                  "computed_at")


def recompute(warehouse: Warehouse, keys: list[MinuteKey]) -> list[tuple[Any, ...]]:
    """Absolute sums of the stored facts for these scope-minutes, versioned (``MINUTE_COLUMNS``)."""
    now = int(time.time())
    rows = []
    # Minutes as 'YYYY-MM-DD hh:mm:ss' literals so the IN matches the primary key itself
    # (a function of `minute` there would make ClickHouse scan the whole table).
    literal_keys = [(*scope, _utc(minute)) for *scope, minute in keys]
    for row in query_in(warehouse, literal_keys, lambda values: (
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
    """Store a batch's facts and follow-up cases (its raw rows already written); return the
    minutes the facts touch."""
    facts, cases = batch_facts(warehouse, events, deadline_ms)
    if facts:
        warehouse.insert("score_facts", facts, FACT_COLUMNS)
    if cases:
        warehouse.insert("followup_cases", cases, CASE_COLUMNS)
    return {fact[:4] for fact in facts}


ROLLUPS: tuple[tuple[str, str, str, str, int], ...] = (
    ("score_hours", "hour", "score_minutes", "minute", 3600),
    ("score_days", "day", "score_hours", "hour", 86400),
)
"""(table, bucket column, source table, its bucket column, bucket seconds), finest first."""


def rollup_columns(column: str) -> tuple[str, ...]:
    return ("tenant", "channel", "touchpoint", column, *STAT_COLUMNS, "version", "computed_at")


def recompute_rollup(warehouse: Warehouse, source: str, source_column: str, size_s: int,
                     buckets: list[MinuteKey]) -> list[tuple[Any, ...]]:
    """Absolute sums of ``source`` (FINAL) for these scope-buckets, versioned by the sum of
    the source versions (which only grow)."""
    now = int(time.time())
    wanted = set(buckets)
    rows = []
    bucket = f"toDateTime(intDiv(toUnixTimestamp({source_column}), {size_s}) * {size_s})"
    for chunk in _chunks(sorted(buckets, key=lambda key: (key[3], key)), 500):
        low, high = chunk[0][3], chunk[-1][3] + size_s
        tuples = in_list([(*scope, _utc(start)) for *scope, start in chunk])
        for row in warehouse.query(
                f"SELECT tenant, channel, touchpoint, toUnixTimestamp({bucket}) AS bucket_s, "
                f"{STAT_SUMS}, sum(version) AS versions "
                f"FROM {warehouse.database}.{source} FINAL "
                f"WHERE {source_column} >= toDateTime({low}) "
                f"AND {source_column} < toDateTime({high}) "
                f"AND (tenant, channel, touchpoint, {bucket}) IN {tuples} "
                f"GROUP BY tenant, channel, touchpoint, bucket_s"):
            key = (row["tenant"], row["channel"], row["touchpoint"], int(row["bucket_s"]))
            if key in wanted:
                rows.append((*key, *stats_of_sums(row).as_dict().values(),
                             int(row["versions"]), now))
    return rows


def rewrite_rollups(warehouse: Warehouse, keys: set[MinuteKey]) -> None:
    """Rewrite the hours, then the days, that these (just rewritten) minutes fall in.

    One query per table and settle: the cost is bounded by the touched scopes
    (at most 60 minutes per hour and 24 hours per day are summed), not by history.
    """
    for table, column, source, source_column, size_s in ROLLUPS:
        buckets = sorted({(*scope, start - start % size_s) for *scope, start in keys})
        warehouse.insert(table, recompute_rollup(warehouse, source, source_column, size_s,
                                                 buckets), rollup_columns(column))


def rewrite_minutes(warehouse: Warehouse, keys: set[MinuteKey]) -> int:
    """Recompute these scope-minutes from the stored facts and write them, then their hours
    and days; returns the count of minutes."""
    if not keys:
        return 0
    minutes = recompute(warehouse, sorted(keys))
    warehouse.insert("score_minutes", minutes, MINUTE_COLUMNS)
    rewrite_rollups(warehouse, keys)
    return len(minutes)


def score_batch(warehouse: Warehouse, events: list[ValidEvent], deadline_ms: int) -> int:
    """Store the batch's facts and rewrite the minutes they touch; returns that count."""
    return rewrite_minutes(warehouse, store_facts(warehouse, events, deadline_ms))
