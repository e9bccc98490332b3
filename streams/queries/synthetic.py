"""Stored history written in bulk by ClickHouse itself (INSERT ... SELECT over ``numbers()``),
so the benches measure reads and writes against months of it in seconds, not hours of
generated traffic through the pipeline."""

from __future__ import annotations

import time

from streams.core.buckets import DAY_S
from streams.core.stats import STAT_COLUMNS
from streams.queries.scoring import MINUTE_COLUMNS, ROLLUPS, rollup_sql
from streams.warehouse import Warehouse
from streams.warehouse.sql import column_list

MINUTE_VALUES = {"interactions": "10 + rand(1) % 20", "failures": "rand(2) % 2",
                 "nps_n": "3", "nps_promoters": "rand(3) % 2", "nps_detractors": "rand(4) % 2",
                 "csat5_n": "1", "csat5_satisfied": "rand(5) % 2", "ces_n": "1",
                 "ces_sum": "1 + rand(6) % 7", "ces_sum_sq": "49", "followup_needed": "1",
                 "followup_met": "rand(7) % 2"}
"""Each minute's statistics, random within what one minute of one scope holds (0 if absent)."""


def fill_minutes(warehouse: Warehouse, first_s: int, last_s: int, *,
                 scopes: tuple[int, int, int], stride_min: int) -> int:
    """Synthetic ``score_minutes`` in [first, last): ``scopes`` (tenants x channels x
    touchpoints), each with a minute of data every ``stride_min`` minutes, offset per scope;
    returns the rows written. Columns named: later migrations add theirs at the end."""
    tenants, channels, touchpoints = scopes
    count = tenants * channels * touchpoints
    rows = (last_s - first_s) // (stride_min * 60) * count
    stats = ", ".join(MINUTE_VALUES.get(column, "0") for column in STAT_COLUMNS)
    scope = "number % " + str(count)
    warehouse.execute(
        f"INSERT INTO {warehouse.database}.score_minutes {column_list(MINUTE_COLUMNS)} SELECT "
        f"concat('tenant', toString(intDiv({scope}, {channels * touchpoints}))), "
        f"concat('channel', toString(intDiv({scope}, {touchpoints}) % {channels})), "
        f"concat('touchpoint', toString({scope} % {touchpoints})), "
        f"toDateTime({first_s} + intDiv(number, {count}) * {stride_min * 60} "
        f"+ ({scope} % {stride_min}) * 60), {stats}, 1, now() FROM numbers({rows})")
    return rows


def build_rollups(warehouse: Warehouse, first_s: int, last_s: int) -> None:
    """Hours, then days, of the minutes in [first, last), 30 days per statement (the worker
    writes them batch by batch; one GROUP BY over a year would need several GiB), then
    merged, so reads meet one row per bucket."""
    for rollup in ROLLUPS:
        for start in range(first_s, last_s, 30 * DAY_S):
            warehouse.execute(rollup_sql(warehouse, rollup, start,
                                         min(last_s, start + 30 * DAY_S)))
    for table in ("score_minutes", "score_hours", "score_days"):
        warehouse.execute(f"OPTIMIZE TABLE {warehouse.database}.{table} FINAL")


def stored_rows(warehouse: Warehouse, table: str) -> int:
    """Rows stored in ``table``, every copy (no FINAL): what a fill has written."""
    return int(warehouse.query(
        f"SELECT count() AS n FROM {warehouse.database}.{table}")[0]["n"])


def fill_history(warehouse: Warehouse, rows: int, start_s: int) -> None:
    """30 days of stored history from ``start_s``: ``rows`` facts over 10 tenants and 10
    touchpoints, a fifth as many NPS answers (each with its revision, needing a follow-up),
    a tenth as many follow-ups; then waits (up to 5 min) until the fill's merges are done,
    so what is measured next meets settled tables."""
    db = warehouse.database
    warehouse.execute(
        f"INSERT INTO {db}.score_facts (tenant, channel, touchpoint, minute, event_id, "
        "interactions) SELECT concat('history-', toString(number % 10)), 'web', "
        "concat('tp', toString(intDiv(number, 10) % 10)), "
        f"toDateTime({start_s} + intDiv(number, 100) % (30 * 1440) * 60), "
        f"concat('h', toString(number)), 1 FROM system.numbers LIMIT {rows}")
    warehouse.execute(
        f"INSERT INTO {db}.feedback (event_id, tenant, channel, touchpoint, occurred_at, "
        "survey, score) SELECT concat('hf', toString(number)), 'history', 'web', 'x', "
        f"toDateTime({start_s} + number % (30 * 86400)), 'nps', 3 FROM system.numbers "
        f"LIMIT {rows // 5}")
    warehouse.execute(
        f"INSERT INTO {db}.feedback_revisions (event_id, revision, tenant, channel, touchpoint, "
        "minute, needs_followup) SELECT concat('hf', toString(number)), 0, 'history', 'web', "
        f"'x', toStartOfMinute(toDateTime({start_s} + number % (30 * 86400))), 1 "
        f"FROM system.numbers LIMIT {rows // 5}")
    warehouse.execute(
        f"INSERT INTO {db}.followups (event_id, feedback_id, tenant, channel, touchpoint, "
        "occurred_at, action) SELECT concat('hu', toString(number)), "
        "concat('hf', toString(number)), 'history', 'web', 'x', "
        f"toDateTime({start_s} + number % (30 * 86400)), 'contacted' FROM system.numbers "
        f"LIMIT {rows // 10}")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and int(warehouse.query(
            f"SELECT count() AS n FROM system.merges WHERE database = '{db}'")[0]["n"]):
        time.sleep(0.5)
