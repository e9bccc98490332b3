"""Keep ``score_minutes`` exact: store each batch's facts, then recompute the touched minutes.

ClickHouse is the scoring state. Facts are keyed by event id and minute sums
are absolute values with a growing version, so every step is idempotent: a
replay after a crash, a duplicate from a producer, a late event or a second
worker touching the same minute all converge on the sum of the deduplicated
facts. A follow-up and its feedback may arrive in any order on any worker:
each side is written before the other is looked up, so whichever comes last
sees both and marks the feedback met. The same lookup writes the follow-up
cases (``core.cases``), versioned so the earliest in-time follow-up wins.
Revisions of a feedback work the same way: each revision's place is stored before
the stored ones are looked up, so the last to come writes the highest revision's
fact and takes the older ones out where they counted (versions decide the rest).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from streams.core.cases import CASE_COLUMNS, CaseRow, Closing, case_row, met_by, withdrawn_case
from streams.core.contract import ValidEvent
from streams.core.facts import (
    CLOSING_ACTIONS,
    FACT_COLUMNS,
    Answer,
    FactRow,
    MinuteKey,
    answer_of,
    interaction_fact,
    tombstones,
)
from streams.core.rows import REVISIONS_TABLE
from streams.core.stats import STAT_COLUMNS
from streams.queries.windows import STAT_SUMS, stats_of_sums
from streams.warehouse import Warehouse
from streams.warehouse.sql import OCCURRED_MS, column_list, in_list, sql_literal


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


@dataclass(frozen=True, slots=True)
class Place:
    """Where one stored revision of a feedback counts (``cx.feedback_revisions``)."""

    revision: int
    key: MinuteKey
    comment: bool
    followup: bool


def _revision_places(warehouse: Warehouse, ids: list[str]) -> dict[str, list[Place]]:
    """Every stored revision of these feedback ids, where it counts."""
    found: dict[str, list[Place]] = {}
    for row in query_in(warehouse, ids, lambda values: (
            f"SELECT event_id, revision, tenant, channel, touchpoint, "
            f"toUnixTimestamp(minute) AS minute_s, has_comment, needs_followup "
            f"FROM {warehouse.database}.{REVISIONS_TABLE} WHERE event_id IN {values}")):
        found.setdefault(row["event_id"], []).append(Place(
            int(row["revision"]), (row["tenant"], row["channel"], row["touchpoint"],
                                   int(row["minute_s"])),
            bool(row["has_comment"]), bool(row["needs_followup"])))
    return found


def _latest_answers(warehouse: Warehouse, ids: list[str]) -> dict[str, Answer]:
    """The highest stored revision of these feedback ids, from the raw table (merges keep
    the highest), by event id."""
    rows = query_in(warehouse, ids, lambda values: (
        f"SELECT event_id, tenant, channel, touchpoint, {OCCURRED_MS} AS at_ms, survey, score, "
        f"scale, customer_id, comment, revision FROM {warehouse.database}.feedback "
        f"WHERE event_id IN {values} ORDER BY event_id, revision DESC LIMIT 1 BY event_id"))
    return {row["event_id"]: Answer(row["event_id"],
                                    (row["tenant"], row["channel"], row["touchpoint"]),
                                    int(row["at_ms"]), row["survey"], int(row["score"]),
                                    int(row["scale"]), row["customer_id"], row["comment"],
                                    int(row["revision"]))
            for row in rows}


# The order of ``closing_rank``, in SQL: the earliest, then the first action of CLOSING_ACTIONS.
_CLOSING_RANK = f"2 * ({OCCURRED_MS}) + indexOf({sql_literal(list(CLOSING_ACTIONS))}, action) - 1"


def _first_closing_followups(warehouse: Warehouse, feedback_ids: list[str],
                             unless: str = "0") -> dict[str, Closing]:
    """The first closing follow-up (``closing_rank``) per feedback id, from the raw table
    (leaving out follow-ups that match the SQL condition ``unless``)."""
    rows = query_in(warehouse, feedback_ids, lambda values: (
        f"SELECT feedback_id, min({OCCURRED_MS}) AS at_ms, "
        f"argMin(action, {_CLOSING_RANK}) AS first_action FROM {warehouse.database}.followups "
        f"WHERE feedback_id IN {values} AND action IN {in_list(CLOSING_ACTIONS)} "
        f"AND NOT ({unless}) GROUP BY feedback_id"))
    return {row["feedback_id"]: (int(row["at_ms"]), row["first_action"]) for row in rows}


def batch_facts(warehouse: Warehouse, events: list[ValidEvent], deadline_ms: int
                ) -> tuple[list[FactRow], list[CaseRow]]:
    """The facts and follow-up cases a batch adds or changes; its raw rows (and revision
    rows) must be written.

    The batch's highest revision of each feedback is looked up among the stored
    revisions (``cx.feedback_revisions``): the highest wins, older revisions that
    counted elsewhere get tombstones, and a batch holding a stale revision writes the
    stored winner's facts again (read from the raw table, as is the feedback a closing
    follow-up of the batch points at). A second lookup joins the winners needing
    follow-up with their first closing follow-up (the batch's own included). Each side
    writes before it looks up, so whichever of two revisions, or of a feedback and its
    follow-up, comes last sees both.
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
            known = answers.get(answer.event_id)
            if known is None or answer.revision > known.revision:
                answers[answer.event_id] = answer
        elif valid.event.action in CLOSING_ACTIONS:  # type: ignore[union-attr]
            targets.add(valid.event.feedback_id)  # type: ignore[union-attr]
    places = _revision_places(warehouse, sorted(answers)) if answers else {}
    stale = {key for key, answer in answers.items()
             if any(place.revision > answer.revision for place in places.get(key, ()))}
    fetch = stale | (targets - answers.keys())
    latest = _latest_answers(warehouse, sorted(fetch)) if fetch else {}
    unhappy: dict[str, Answer] = {}
    cases: list[CaseRow] = []
    for key, answer in answers.items():
        stored = latest.get(key)
        # A stale batch writes the stored winner (if its raw row is not in yet, the worker
        # writing it writes its facts, which outrank these).
        best = stored if stored is not None and stored.revision > answer.revision else answer
        own = Place(answer.revision, answer.key, bool(answer.comment), answer.needs_followup)
        facts += _superseded(best, [own, *places.get(key, ())])
        cases += _withdrawn(best, [own, *places.get(key, ())], deadline_ms)
        if best.needs_followup:
            unhappy[key] = best
        else:
            facts.append(best.fact(met=False))
    for key in targets - answers.keys():
        best = latest.get(key)
        if best is not None and best.needs_followup:
            unhappy[key] = best
    first = _first_closing_followups(warehouse, sorted(unhappy)) if unhappy else {}
    for key, answer in unhappy.items():
        met = met_by(answer, first.get(key), deadline_ms)
        facts.append(answer.fact(met=met is not None))
        cases.append(case_row(answer, met, deadline_ms))
    return facts, cases


def rescored(warehouse: Warehouse, feedback_ids: list[str], deadline_ms: int,
             unless: str = "0") -> tuple[list[FactRow], list[CaseRow]]:
    """The facts and cases of these stored feedback that need follow-up, from the raw rows
    (the highest revision, met by its first closing follow-up but those matching the SQL
    condition ``unless``): for follow-ups being removed (``queries.erasure``), so ``met``
    may turn back."""
    latest = _latest_answers(warehouse, feedback_ids) if feedback_ids else {}
    unhappy = {key: answer for key, answer in latest.items() if answer.needs_followup}
    first = _first_closing_followups(warehouse, sorted(unhappy), unless) if unhappy else {}
    facts, cases = [], []
    for key, answer in sorted(unhappy.items()):
        met = met_by(answer, first.get(key), deadline_ms)
        facts.append(answer.fact(met=met is not None))
        cases.append(case_row(answer, met, deadline_ms))
    return facts, cases


def _superseded(best: Answer, places: list[Place]) -> list[FactRow]:
    """Tombstones where older revisions counted and the winner does not (its own comment
    fact, if it has none, is the enrichment's to withdraw: ``queries.comments``)."""
    comments: dict[MinuteKey, bool] = {}
    for place in places:
        if place.key != best.key and place.revision <= best.revision:
            comments[place.key] = comments.get(place.key, False) or place.comment
    return [fact for key, comment in comments.items()
            for fact in tombstones(best.event_id, key, best.revision, comment)]


def _withdrawn(best: Answer, places: list[Place], deadline_ms: int) -> list[CaseRow]:
    """Withdrawn cases of older revisions needing follow-up, where the winner has no case:
    it needs none, or it belongs to another tenant (cases are keyed by tenant and id)."""
    tenants = {place.key[0] for place in places if place.followup
               and place.revision < best.revision
               and (not best.needs_followup or place.key[0] != best.scope[0])}
    return [withdrawn_case(replace(best, scope=(tenant, *best.scope[1:])), best.revision,
                           deadline_ms) for tenant in sorted(tenants)]


MINUTE_COLUMNS = ("tenant", "channel", "touchpoint", "minute", *STAT_COLUMNS, "version",
                  "computed_at")


def _minute_sums_sql(warehouse: Warehouse, minute: str, values: str) -> str:
    """``SELECT`` of the absolute sums of the stored facts (FINAL) for the scope-minutes in
    the IN list ``values``, in ``MINUTE_COLUMNS`` order (``minute``: how the minute is
    selected), versioned by the count of facts plus the sum of their versions: one query
    for ``recompute`` to read and ``write_minutes`` to insert, so they cannot drift."""
    return (f"SELECT tenant, channel, touchpoint, {minute}, {STAT_SUMS}, "
            f"count() + sum(version) AS versions, now() AS computed_at "
            f"FROM {warehouse.database}.score_facts FINAL "
            f"WHERE (tenant, channel, touchpoint, minute) IN {values} "
            "GROUP BY tenant, channel, touchpoint, minute")


def recompute(warehouse: Warehouse, keys: list[MinuteKey]) -> list[tuple[Any, ...]]:
    """Absolute sums of the stored facts for these scope-minutes (``MINUTE_COLUMNS``),
    versioned by the count of facts plus the sum of their versions: a new fact, a met
    follow-up, a later revision or a tombstone all make it grow (for facts of revision 0
    it is facts plus met follow-ups, as before revisions)."""
    now = int(time.time())
    rows = []
    # Minutes as 'YYYY-MM-DD hh:mm:ss' literals so the IN matches the primary key itself
    # (a function of `minute` there would make ClickHouse scan the whole table).
    literal_keys = [(*scope, _utc(minute)) for *scope, minute in keys]
    for row in query_in(warehouse, literal_keys, lambda values: _minute_sums_sql(
            warehouse, "toUnixTimestamp(minute) AS minute_s", values)):
        stats = stats_of_sums(row)
        rows.append((row["tenant"], row["channel"], row["touchpoint"], int(row["minute_s"]),
                     *stats.as_dict().values(), int(row["versions"]), now))
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


def rollup_sql(warehouse: Warehouse, rollup: tuple[str, str, str, str, int], low_s: int,
               high_s: int, buckets: list[MinuteKey] | None = None) -> str:
    """``INSERT … SELECT`` of one of ``ROLLUPS``: absolute sums of its source (FINAL) per
    scope and bucket for the source rows in [low, high) (and only these scope-buckets, if
    given), versioned by the sum of the source versions (which only grow). ClickHouse
    computes and writes them: no rows cross the wire."""
    table, bucket_column, source, column, size_s = rollup
    bucket = f"toDateTime(intDiv(toUnixTimestamp({column}), {size_s}) * {size_s})"
    only = "" if buckets is None else (
        f" AND (tenant, channel, touchpoint, {bucket}) IN "
        f"{in_list([(*scope, _utc(start)) for *scope, start in buckets])}")
    return (f"INSERT INTO {warehouse.database}.{table} "
            f"{column_list(rollup_columns(bucket_column))} "
            f"SELECT tenant, channel, touchpoint, {bucket} AS bucket, {STAT_SUMS}, sum(version), "
            f"now() FROM {warehouse.database}.{source} FINAL "
            f"WHERE {column} >= toDateTime({low_s}) AND {column} < toDateTime({high_s}){only} "
            "GROUP BY tenant, channel, touchpoint, bucket")


def rewrite_rollups(warehouse: Warehouse, keys: set[MinuteKey]) -> None:
    """Rewrite the hours, then the days, that these (just rewritten) minutes fall in.

    One statement per table, settle and 500 buckets: the cost is bounded by the touched
    scopes (at most 60 minutes per hour and 24 hours per day are summed), not by history.
    """
    for rollup in ROLLUPS:
        size_s = rollup[4]
        buckets = sorted({(*scope, start - start % size_s) for *scope, start in keys},
                         key=lambda key: (key[3], key))
        for chunk in _chunks(buckets, 500):
            warehouse.execute(rollup_sql(warehouse, rollup, chunk[0][3],
                                         chunk[-1][3] + size_s, chunk))


def write_minutes(warehouse: Warehouse, keys: set[MinuteKey]) -> None:
    """Recompute these scope-minutes from the stored facts and write them, in ClickHouse
    (``INSERT … SELECT``, as ``recompute`` reads them): no rows cross the wire."""
    for chunk in _chunks([(*scope, _utc(minute)) for *scope, minute in sorted(keys)]):
        warehouse.execute(
            f"INSERT INTO {warehouse.database}.score_minutes {column_list(MINUTE_COLUMNS)} "
            + _minute_sums_sql(warehouse, "minute", in_list(chunk)))


def rewrite_minutes(warehouse: Warehouse, keys: set[MinuteKey]) -> int:
    """Rewrite these scope-minutes from the stored facts, then their hours and days;
    returns the count of minutes."""
    if not keys:
        return 0
    write_minutes(warehouse, keys)
    rewrite_rollups(warehouse, keys)
    return len(keys)


def score_batch(warehouse: Warehouse, events: list[ValidEvent], deadline_ms: int) -> int:
    """Store the batch's facts and rewrite the minutes they touch; returns that count."""
    return rewrite_minutes(warehouse, store_facts(warehouse, events, deadline_ms))
