"""Retention: forget old rows of every table by its rule (``core.retention.RULES``).

CX_RETENTION_DAYS: forget raw events, facts and minutes by dropping whole old months.

ClickHouse 18.16 has no TTL clause, so retention drops the monthly partitions
(``toYYYYMM``) whose every instant is older than the retention: a month goes
once its end is ``days`` behind now, so up to a month more is kept than asked.
The hourly and daily rollups are kept: long trends outlive the detail, and
window reads older than the retention are exact to the hour.

The other tables are not partitioned by time (their sorting keys deduplicate across
any time): their old rows go by ``ALTER TABLE ... DELETE`` mutations, waited for
(``queries.erasure.delete``). Tables keeping versions of one key (cases, incidents)
lose every version of a key at once, chosen by its latest one: deleting only the
old closed versions would bring an older, open version back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.core.alerts import FIRING
from streams.core.buckets import DAY_S, month_end
from streams.core.incidents import OPEN
from streams.core.retention import AGE, CLOSED, MONTHS, RESOLVED, RULES, SETTABLE
from streams.queries.erasure import Deleter, in_chunks, primed
from streams.warehouse import Warehouse
from streams.warehouse.cluster import LOCAL_SUFFIX, ClusterDDL
from streams.warehouse.sql import in_list, sql_literal

RETAINED = tuple(table for table, rule in RULES.items() if rule.how == MONTHS)
"""The tables whose whole months go, each partitioned by month of event time."""


def expired(warehouse: Warehouse, *, days: int, now_s: int, cluster: str | None = None
            ) -> dict[str, list[int]]:
    """Per table, the month partitions wholly older than ``days`` before ``now_s``; with
    ``cluster``, those of any shard (its ``<table>_local`` parts)."""
    cutoff = now_s - days * DAY_S
    names = RETAINED if cluster is None else tuple(t + LOCAL_SUFFIX for t in RETAINED)
    parts = "system.parts" if cluster is None else f"cluster({sql_literal(cluster)}, system.parts)"
    rows = warehouse.query(
        f"SELECT DISTINCT table, partition FROM {parts} "
        f"WHERE database = '{warehouse.database}' AND table IN {in_list(names)} AND active")
    found: dict[str, set[int]] = {}
    for row in rows:
        month = int(row["partition"])
        if month_end(month) <= cutoff:
            found.setdefault(row["table"].removesuffix(LOCAL_SUFFIX), set()).add(month)
    return {table: sorted(months) for table, months in sorted(found.items())}


def apply_retention(warehouse: Warehouse, *, days: int, now_s: int,
                    cluster: str | None = None, ddl: ClusterDDL | None = None
                    ) -> dict[str, list[int]]:
    """Drop the expired partitions (on every shard with ``cluster``, translated by ``ddl``,
    ``primed`` for it when not given); returns what was dropped (table -> months)."""
    dropped = expired(warehouse, days=days, now_s=now_s, cluster=cluster)
    if ddl is None and cluster is not None:
        ddl = primed(warehouse.database, cluster)
    for table, months in dropped.items():
        for month in months:
            statement = f"ALTER TABLE {warehouse.database}.{table} DROP PARTITION {month}"
            for each in [statement] if ddl is None else ddl.translate(statement):
                warehouse.execute(each)
    return dropped


@dataclass
class Pass:
    """What a retention pass dropped (or, dry, would drop)."""

    months: dict[str, list[int]] = field(default_factory=dict)
    """table -> the month partitions dropped (``MONTHS`` tables)."""
    rows: dict[str, int] = field(default_factory=dict)
    """table -> the rows deleted as reads see them (``selected``), for tables that lost any."""


def _before(column: str, cutoff_s: int) -> str:
    return f"{column} < toDateTime({int(cutoff_s)})"


def selected(warehouse: Warehouse, table: str, cutoff_s: int) -> tuple[list[str], int]:
    """The ``DELETE WHERE`` conditions selecting ``table``'s rows older than ``cutoff_s`` by
    its rule (one mutation each; none when nothing goes), and how many rows they select as
    reads see them (FINAL: a case or an incident is one, however many versions it stored)."""
    db, rule = warehouse.database, RULES[table]
    old = _before(rule.column, cutoff_s)
    if rule.how == CLOSED:  # followup_cases: the latest version met or withdrawn
        keys = [(row["tenant"], row["feedback_id"]) for row in warehouse.query(
            f"SELECT tenant, feedback_id FROM (SELECT tenant, feedback_id, opened_at, met_at, "
            f"withdrawn FROM {db}.{table} FINAL) WHERE {old} "
            "AND (isNotNull(met_at) OR withdrawn = 1) ORDER BY tenant, feedback_id")]
        return in_chunks("(tenant, feedback_id)", keys), len(keys)
    if rule.how == RESOLVED and table == "incidents":  # the latest version not open
        keys = [(row["tenant"], row["id"]) for row in warehouse.query(
            f"SELECT tenant, id FROM (SELECT tenant, id, state, {rule.column} "
            f"FROM {db}.{table} FINAL) WHERE {old} AND state != '{OPEN}' ORDER BY tenant, id")]
        return in_chunks("(tenant, id)", keys), len(keys)
    if rule.how == RESOLVED and table == "alerts":  # every change, but a firing alert's
        scope = ("tenant", "channel", "touchpoint", "metric")
        firing = [tuple(row[c] for c in scope) for row in warehouse.query(
            f"SELECT {', '.join(scope)} FROM {db}.{table} GROUP BY {', '.join(scope)} "
            f"HAVING argMax(state, at) = '{FIRING}' ORDER BY {', '.join(scope)}")]
        if firing:
            old += f" AND ({', '.join(scope)}) NOT IN {in_list(firing)}"
    elif rule.how != AGE:
        raise ValueError(f"no row retention for {table} ({rule.how})")
    rows = int(warehouse.query(f"SELECT count() AS n FROM {db}.{table} FINAL "
                               f"WHERE {old}")[0]["n"])
    return ([old] if rows else []), rows


def prune(warehouse: Warehouse, days: Mapping[str, int | None], *, now_s: int,
          dry_run: bool = False, cluster: str | None = None) -> Pass:
    """Forget what each table's rule and ``days`` (``Settings.retention_days_of``; None keeps
    a table) say is old at ``now_s``; ``dry_run``: only say what would go. With ``cluster``
    it drops and deletes on every shard (as ``cxpulse forget`` does).

    Each mutation is waited for before the next is sent: ClickHouse 18.16, applying
    several pending ``DELETE WHERE (a, b) IN (...)`` mutations of one part together, was
    seen to skip one of them (a first pass over 12k closed cases left 3,921 behind while
    ``system.mutations`` said done)."""
    done = Pass()
    ddl = None if cluster is None or dry_run else primed(warehouse.database, cluster)
    event_days = days.get(RETAINED[0])  # one CX_RETENTION_DAYS for them all
    if event_days is not None and dry_run:
        done.months = expired(warehouse, days=event_days, now_s=now_s, cluster=cluster)
    elif event_days is not None:
        done.months = apply_retention(warehouse, days=event_days, now_s=now_s, cluster=cluster,
                                      ddl=ddl)
    wanted: dict[str, list[str]] = {}
    for table in SETTABLE:
        kept = days.get(table)
        if kept is None:
            continue
        where, rows = selected(warehouse, table, now_s - kept * DAY_S)
        if rows:
            done.rows[table] = rows
            wanted[table] = where
    if not dry_run:
        deleter = Deleter(warehouse, cluster, ddl=ddl)
        for table, where in wanted.items():
            for condition in where:  # one at a time: see ``prune``'s note on 18.16
                deleter({table: [condition]})
    return done
