"""``cxpulse forget``: remove every stored trace of one customer of one tenant, scores exact.

What goes: the customer's interactions, feedback (every revision, in every table keyed by
its event id: revisions' places, comment insights, cases, notification records),
follow-ups (theirs, and those of their feedback), dead letters and notification records
whose payload names them, and the facts of their events (comment facts and tombstones
too). Rows go by ``ALTER TABLE ... DELETE`` mutations, which are asynchronous on every
engine (18.16 has no ``mutations_sync``): each is waited for in ``system.mutations``.

Then the minutes those facts counted in are rewritten from the facts left, through the
worker's own path (``scoring.rewrite_minutes``, which rewrites the hours and days too).
A minute's version is the count of its facts plus the sum of their versions, so removing
facts would lower it, and the old row would win under ``ReplacingMergeTree(version)``.
So each touched minute first gets a zero fact ``erasure:<id>`` whose version lifts the
minute above every version stored for it; it stays in the facts, so a worker's later
rewrite of the minute counts it too and still grows. A follow-up of the customer that
met another customer's feedback takes that feedback's ``met`` with it: that feedback's
fact and case are written again from the raw rows, without the customer's follow-ups.

The raw rows that identify the customer (interactions, feedback, follow-ups, revisions'
places) go last, after the rewrite: a run interrupted midway finds them again and
finishes. Once done, running it again finds nothing and removes nothing. Events of the
customer that arrive meanwhile are the caller's to stop; other customers' events a
worker writes meanwhile are counted by the rewrite or by the worker's next one.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.core.cases import CASE_COLUMNS
from streams.core.erasure import ERASURE_FACT_PREFIX, deadletter_pattern
from streams.core.facts import COMMENT_FACT_PREFIX, FACT_COLUMNS, MinuteKey
from streams.core.stats import STAT_COLUMNS
from streams.queries.scoring import _utc, query_in, recompute, rescored, rewrite_minutes
from streams.warehouse import Warehouse, WarehouseError
from streams.warehouse.cluster import ClusterDDL
from streams.warehouse.migrate import plan
from streams.warehouse.sql import in_list, sql_literal

ERASED_TABLES = ("interactions", "feedback", "followups", "feedback_revisions",
                 "comment_insights", "followup_cases", "notifications", "deadletters",
                 "score_facts")
"""Every table that can hold a customer's rows, in the order they are reported."""
LAST = ("interactions", "feedback", "followups", "feedback_revisions")
"""Removed after the minutes are rewritten: they say which events, minutes and follow-ups
were the customer's, so an interrupted run can be finished by running it again."""
AUDIT_COLUMNS = ("id", "erased_at", "tenant", "customer_hash", "salt_id", "operator",
                 "key_id", "counts", "rows_removed")
QUERY_BYTES = 200_000
"""Literals per ``ALTER TABLE ... DELETE``: below ClickHouse's ``max_query_size`` (256 KiB),
so a first pass over years of closed cases is a few mutations, not thousands."""

Progress = Callable[[str], None]


@dataclass
class Found:
    """A customer's rows: the event ids that identify them, and per table the conditions
    (one mutation each) that select them."""

    feedback: list[str] = field(default_factory=list)
    interactions: list[str] = field(default_factory=list)
    conditions: dict[str, list[str]] = field(default_factory=dict)


def _ids(warehouse: Warehouse, sql: str) -> list[str]:
    return sorted({row["event_id"] for row in warehouse.query(sql)})


def in_chunks(columns: str, values: Sequence[Any]) -> list[str]:
    """``columns IN (..)`` conditions over ``values`` (ids, or key tuples for ``(a, b)``), one
    mutation each, each within ``QUERY_BYTES``; none for no values."""
    chunks: list[list[str]] = [[]]
    size = 0
    for value in values:
        literal = sql_literal(value)
        if chunks[-1] and size + len(literal) > QUERY_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(literal)
        size += len(literal) + 2
    return [f"{columns} IN ({', '.join(chunk)})" for chunk in chunks if chunk]


def who(tenant: str, customer: str) -> str:
    """The SQL condition on a raw row (or case) of the customer."""
    return f"tenant = {sql_literal(tenant)} AND customer_id = {sql_literal(customer)}"


def find(warehouse: Warehouse, tenant: str, customer: str) -> Found:
    """What names the customer now, table by table."""
    db = warehouse.database
    who_ = who(tenant, customer)
    found = Found(
        feedback=_ids(warehouse, f"SELECT DISTINCT event_id FROM {db}.feedback WHERE {who_}"),
        interactions=_ids(warehouse,
                          f"SELECT DISTINCT event_id FROM {db}.interactions WHERE {who_}"))
    by_feedback = found.feedback
    pattern = sql_literal(deadletter_pattern(customer))
    facts = [*found.interactions, *by_feedback,
             *(COMMENT_FACT_PREFIX + event_id for event_id in by_feedback)]
    found.conditions = {
        "interactions": [who_] if found.interactions else [],
        "feedback": in_chunks("event_id", by_feedback),
        "followups": [who_, *in_chunks("feedback_id", by_feedback)],
        "feedback_revisions": in_chunks("event_id", by_feedback),
        "comment_insights": in_chunks("event_id", by_feedback),
        "followup_cases": [who_, *in_chunks("feedback_id", by_feedback)],
        "notifications": [*in_chunks("event_id", by_feedback), f"match(payload, {pattern})"],
        "deadletters": [f"match(payload, {pattern}) OR match(message, {pattern})"],
        "score_facts": in_chunks("event_id", facts),
    }
    return found


def count(warehouse: Warehouse, table: str, conditions: list[str]) -> int:
    """Rows (every stored copy, not FINAL) that the conditions select."""
    if not conditions:
        return 0
    where = " OR ".join(f"({condition})" for condition in conditions)
    return int(warehouse.query(f"SELECT count() AS n FROM {warehouse.database}.{table} "
                               f"WHERE {where}")[0]["n"])


def wait_for_mutations(warehouse: Warehouse, tables: list[str], *, timeout_s: float = 3600.0,
                       progress: Progress = lambda _: None, every_s: float = 10.0) -> None:
    """Until no mutation of these tables is left to do; says which every ``every_s`` on long
    work, and gives up after ``timeout_s`` (a stuck mutation is an error, never a hang)."""
    if not tables:
        return
    started = time.monotonic()
    said = started
    pause = 0.05
    while True:
        left = warehouse.query(
            f"SELECT table, count() AS n, sum(parts_to_do) AS parts FROM system.mutations "
            f"WHERE database = {sql_literal(warehouse.database)} "
            f"AND table IN {in_list(sorted(set(tables)))} AND is_done = 0 GROUP BY table")
        if not left:
            return
        waited = time.monotonic() - started
        names = ", ".join(f"{row['table']} ({int(row['parts'])} parts)"
                          for row in sorted(left, key=lambda row: row["table"]))
        if waited > timeout_s:
            raise WarehouseError(f"{warehouse.description}: mutations not done after "
                                 f"{timeout_s:.0f} s on {names} (see system.mutations)")
        if time.monotonic() - said >= every_s:
            progress(f"still removing after {waited:.0f} s: {names}")
            said = time.monotonic()
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def wait_for_rows(warehouse: Warehouse, conditions: dict[str, list[str]], *,
                  timeout_s: float = 3600.0, progress: Progress = lambda _: None,
                  every_s: float = 10.0) -> None:
    """Until no row the conditions select is left, read through the public (Distributed)
    tables: on a cluster each shard runs its own mutations, which one node's
    ``system.mutations`` cannot see."""
    started = said = time.monotonic()
    pause = 0.05
    while True:
        left = {table: n for table, wheres in conditions.items()
                if (n := count(warehouse, table, wheres))}
        if not left:
            return
        waited = time.monotonic() - started
        names = ", ".join(f"{table} ({n} rows)" for table, n in sorted(left.items()))
        if waited > timeout_s:
            raise WarehouseError(f"{warehouse.description}: rows still there after "
                                 f"{timeout_s:.0f} s on {names} (see system.mutations on "
                                 "each shard)")
        if time.monotonic() - said >= every_s:
            progress(f"still removing after {waited:.0f} s: {names}")
            said = time.monotonic()
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def primed(database: str, cluster: str) -> ClusterDDL:
    """The cluster translator, knowing the tables of the schema files (as migrate's plan)."""
    ddl = ClusterDDL(cluster)
    for _, statements in plan(database):
        for statement in statements:
            ddl.translate(statement)
    return ddl


def delete_statements(database: str, table: str, where: str, ddl: ClusterDDL | None = None
                      ) -> list[str]:
    """``ALTER TABLE ... DELETE`` on one node, or as the cluster translator makes it: on
    every shard's ``_local`` table, ``ON CLUSTER``."""
    statement = f"ALTER TABLE {database}.{table} DELETE WHERE {where}"
    return [statement] if ddl is None else ddl.translate(statement)


class Deleter:
    """Deletes by mutations on one node or every shard of a cluster, then waits until done."""

    def __init__(self, warehouse: Warehouse, cluster: str | None = None,
                 progress: Progress = lambda _: None, *, ddl: ClusterDDL | None = None) -> None:
        """``ddl``: the cluster's translator when the caller has one (else ``primed`` here)."""
        self.warehouse = warehouse
        self.progress = progress
        if ddl is None and cluster is not None:
            ddl = primed(warehouse.database, cluster)
        self.ddl = ddl

    def __call__(self, conditions: dict[str, list[str]]) -> None:
        conditions = {table: wheres for table, wheres in conditions.items() if wheres}
        for table, wheres in conditions.items():
            for where in wheres:
                for statement in delete_statements(self.warehouse.database, table, where,
                                                   self.ddl):
                    self.warehouse.execute(statement)
        if self.ddl is None:
            wait_for_mutations(self.warehouse, list(conditions), progress=self.progress)
        else:
            wait_for_rows(self.warehouse, conditions, progress=self.progress)


def delete(warehouse: Warehouse, conditions: dict[str, list[str]],
           progress: Progress = lambda _: None) -> None:
    """One ``ALTER TABLE ... DELETE`` per condition on one node, then wait for all of them."""
    Deleter(warehouse, None, progress)(conditions)


def _keys(warehouse: Warehouse, found: Found) -> set[MinuteKey]:
    """The scope-minutes the customer's events count in: where their facts are, and where
    the raw rows say they count (every revision's place), so a run interrupted after the
    facts went still finds the minutes to rewrite (the raw rows go last)."""
    db = warehouse.database
    scope = "tenant, channel, touchpoint"
    keys: set[MinuteKey] = set()
    facts = [*found.interactions, *found.feedback,
             *(COMMENT_FACT_PREFIX + event_id for event_id in found.feedback)]
    for ids, sql in (
            (facts, f"SELECT DISTINCT {scope}, toUnixTimestamp(minute) AS minute_s "
                    f"FROM {db}.score_facts WHERE event_id IN "),
            (found.interactions, f"SELECT DISTINCT {scope}, toUnixTimestamp("
                                 f"toStartOfMinute(occurred_at)) AS minute_s "
                                 f"FROM {db}.interactions WHERE event_id IN "),
            (found.feedback, f"SELECT DISTINCT {scope}, toUnixTimestamp(minute) AS minute_s "
                             f"FROM {db}.feedback_revisions WHERE event_id IN ")):
        keys |= {(row["tenant"], row["channel"], row["touchpoint"], int(row["minute_s"]))
                 for row in query_in(warehouse, ids, lambda values, sql=sql: sql + values)}
    return keys


def _closed_elsewhere(warehouse: Warehouse, tenant: str, customer: str,
                      feedback: list[str]) -> list[str]:
    """Feedback of others that a follow-up carrying this customer's id points at."""
    own = set(feedback)
    rows = warehouse.query(f"SELECT DISTINCT feedback_id FROM {warehouse.database}.followups "
                           f"WHERE {who(tenant, customer)}")
    return sorted({row["feedback_id"] for row in rows} - own)


def lift(warehouse: Warehouse, keys: set[MinuteKey], erasure_id: str) -> None:
    """Add a zero fact per minute whose version makes the minute's next version exceed every
    version stored for it (the facts left may sum lower than before)."""
    if not keys:
        return
    literal_keys = [(*scope, _utc(minute)) for *scope, minute in sorted(keys)]
    stored = {(row["tenant"], row["channel"], row["touchpoint"], int(row["minute_s"])):
              int(row["top"]) for row in query_in(warehouse, literal_keys, lambda values: (
                  f"SELECT tenant, channel, touchpoint, toUnixTimestamp(minute) AS minute_s, "
                  f"max(version) AS top FROM {warehouse.database}.score_minutes "
                  f"WHERE (tenant, channel, touchpoint, minute) IN {values} "
                  "GROUP BY tenant, channel, touchpoint, minute"))}
    left = {(row["tenant"], row["channel"], row["touchpoint"], int(row["minute_s"])):
            int(row["versions"]) for row in query_in(warehouse, literal_keys, lambda values: (
                f"SELECT tenant, channel, touchpoint, toUnixTimestamp(minute) AS minute_s, "
                f"count() + sum(version) AS versions "
                f"FROM {warehouse.database}.score_facts FINAL "
                f"WHERE (tenant, channel, touchpoint, minute) IN {values} "
                "GROUP BY tenant, channel, touchpoint, minute"))}
    zero = (0,) * len(STAT_COLUMNS)
    # The new version is left + 1 (this fact) + its version: one more than the stored top.
    warehouse.insert("score_facts", [
        (*key, ERASURE_FACT_PREFIX + erasure_id, *zero,
         max(0, stored.get(key, 0) - left.get(key, 0)))
        for key in sorted(keys)], FACT_COLUMNS)


def _unsettled(warehouse: Warehouse, keys: set[MinuteKey]) -> set[MinuteKey]:
    """The minutes whose stored statistics (FINAL) differ from their facts' sums."""
    literal_keys = [(*scope, _utc(minute)) for *scope, minute in sorted(keys)]
    stored = {(row["tenant"], row["channel"], row["touchpoint"], int(row["minute_s"])):
              tuple(int(row[name]) for name in STAT_COLUMNS)
              for row in query_in(warehouse, literal_keys, lambda values: (
                  f"SELECT tenant, channel, touchpoint, toUnixTimestamp(minute) AS minute_s, "
                  f"{', '.join(STAT_COLUMNS)} FROM {warehouse.database}.score_minutes FINAL "
                  f"WHERE (tenant, channel, touchpoint, minute) IN {values}"))}
    summed = {row[:4]: tuple(row[4:4 + len(STAT_COLUMNS)])
              for row in recompute(warehouse, sorted(keys))}
    return {key for key in keys if stored.get(key) != summed.get(key)}


def settle(warehouse: Warehouse, keys: set[MinuteKey], progress: Progress = lambda _: None,
           settle_s: float = 1.0, rounds: int = 3) -> None:
    """Lift and rewrite the minutes, then look again after ``settle_s``: a worker that read
    the facts before they went may write its (stale, higher-versioned) minute after ours;
    such a minute is lifted and rewritten once more (a fresh ``erasure:`` fact each time)."""
    erasure_id = secrets.token_hex(8)
    todo = set(keys)
    for round_ in range(rounds):
        lift(warehouse, todo, f"{erasure_id}-{round_}")
        rewritten = rewrite_minutes(warehouse, todo)
        progress(f"rewrote {rewritten} scope-minutes and their hours and days")
        time.sleep(settle_s)
        todo = _unsettled(warehouse, keys)
        if not todo:
            return
    progress(f"{len(todo)} scope-minutes still changing (workers are writing them): "
             "their next rewrite counts the erasure")


def forget(warehouse: Warehouse, tenant: str, customer: str, *, deadline_ms: int,
           dry_run: bool = False, progress: Progress = lambda _: None,
           cluster: str | None = None, settle_s: float = 1.0) -> dict[str, int]:
    """Remove the customer (or, ``dry_run``, only count); rows removed per table
    (``ERASED_TABLES`` order). Minutes, hours and days are rewritten exactly. With a
    ``cluster`` (CX_CLICKHOUSE_CLUSTER) the rows go from every shard."""
    found = find(warehouse, tenant, customer)
    counts = {table: count(warehouse, table, found.conditions[table])
              for table in ERASED_TABLES}
    if dry_run or not any(counts.values()):
        return counts
    keys = _keys(warehouse, found)
    others = _closed_elsewhere(warehouse, tenant, customer, found.feedback)
    total = sum(counts.values())
    progress(f"removing {total} rows from {sum(1 for n in counts.values() if n)} tables "
             "(waiting for the mutations)")
    started = time.monotonic()
    # Everything but the raw rows that find the customer (and their revisions' places):
    # those go last, so a run interrupted before the end is finished by running it again.
    remove = Deleter(warehouse, cluster, progress)
    remove({table: wheres for table, wheres in found.conditions.items()
            if counts[table] and table not in LAST})
    if others:
        # The customer's follow-ups are still stored (they go last): leave them out.
        facts, cases = rescored(warehouse, others, deadline_ms, unless=who(tenant, customer))
        progress(f"rescoring {len(facts)} feedback of others its follow-ups had met")
        remove({"score_facts": [f"({where}) AND followup_met = 1"
                                for where in in_chunks("event_id", others)],
                "followup_cases": [f"({where}) AND withdrawn = 0"
                                   for where in in_chunks("feedback_id", others)]})
        warehouse.insert("score_facts", facts, FACT_COLUMNS)
        warehouse.insert("followup_cases", cases, CASE_COLUMNS)
        keys |= {fact[:4] for fact in facts}
    settle(warehouse, keys, progress, settle_s)
    remove({table: found.conditions[table] for table in LAST if counts[table]})
    progress(f"removed in {time.monotonic() - started:.1f} s")
    return counts


def record(warehouse: Warehouse, *, tenant: str, customer_hash: str, salt_id: str,
           operator: str, key_id: str, counts: dict[str, int], now_s: int | None = None
           ) -> str:
    """The audit row in ``cx.erasures``; returns its id."""
    audit_id = secrets.token_hex(8)
    warehouse.insert("erasures", [(
        audit_id, int(time.time()) if now_s is None else now_s, tenant, customer_hash,
        salt_id, operator, key_id, orjson.dumps(counts).decode(), sum(counts.values()))],
        AUDIT_COLUMNS)
    return audit_id


def audits(warehouse: Warehouse, tenant: str | None = None) -> list[dict[str, Any]]:
    """The audit rows, oldest first (``counts`` decoded)."""
    where = f"WHERE tenant = {sql_literal(tenant)} " if tenant else ""
    rows = warehouse.query(
        f"SELECT id, toUnixTimestamp(erased_at) AS erased_s, tenant, customer_hash, salt_id, "
        f"operator, key_id, counts, rows_removed FROM {warehouse.database}.erasures "
        f"{where}ORDER BY erased_at, id")
    return [{**row, "counts": orjson.loads(row["counts"])} for row in rows]
