"""``cxpulse bench reads``: window and trend reads from the rollups vs the minute table.

One simulated year of ``score_minutes`` for 10 tenants x 8 channels x 10
touchpoints (800 scopes), sparse as real traffic is: each scope has a minute
with data every ``STRIDE_MIN`` minutes (offset per scope), random counts in it.
The minutes are generated inside ClickHouse (``numbers()``), the hours and days
built from them by INSERT ... SELECT a month at a time. Timed (median of
``RUNS``), after 3 months of history and again after 12:

- a 7-day window ending at a ragged minute (``scope_totals``: days, hours and
  edge minutes) vs the same from the minutes alone;
- a 90-day daily trend (sums per day) from ``score_days`` vs from the minutes.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from streams.config import Settings
from streams.console import say
from streams.core.buckets import DAY_S, MINUTE_S
from streams.queries.synthetic import build_rollups, fill_minutes, stored_rows
from streams.queries.windows import daily_totals, scope_totals
from streams.tools.bench import server_base
from streams.tools.bench.stages import DEADLINE_MS
from streams.warehouse import Warehouse, connect
from streams.warehouse.migrate import migrate

SCOPES = (10, 8, 10)
STRIDE_MIN = 30
RUNS = 5
YEAR_DAYS = 364
FIRST_DAYS = 91
END_S = 1_798_761_600  # 2027-01-01T00:00Z


def _median_s(read: Callable[[], Any]) -> float:
    read()  # warm
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _trend(warehouse: Warehouse, table: str, column: str, end_s: int) -> list[dict]:
    return daily_totals(warehouse, table, column, end_s - 90 * DAY_S, end_s)


def measure(warehouse: Warehouse) -> dict[str, Any]:
    """Reads after 3 months of history, then after 12 (the same reads, the same end)."""
    results: dict[str, Any] = {"scopes": 800, "stride_minutes": STRIDE_MIN, "runs": RUNS}
    end_s = END_S - 7 * 3600 - 23 * 60  # ragged: edge minutes and hours on both sides
    filled_from = END_S
    for label, days in (("3_months", FIRST_DAYS), ("12_months", YEAR_DAYS)):
        started = time.perf_counter()
        rows = fill_minutes(warehouse, END_S - days * DAY_S, filled_from, scopes=SCOPES,
                            stride_min=STRIDE_MIN)
        build_rollups(warehouse, END_S - days * DAY_S, filled_from)
        filled_from = END_S - days * DAY_S
        count = stored_rows(warehouse, "score_minutes")
        say(f"  {label}: {count:,} scope-minutes ({rows:,} added, "
            f"{time.perf_counter() - started:.0f} s with rollups)")

        def window(sizes: tuple[int, ...]) -> Callable[[], Any]:
            return lambda: scope_totals(warehouse, end_s * 1000, 7 * DAY_S * 1000,
                                        DEADLINE_MS, {}, sizes=sizes)

        assert window((DAY_S, 3600, MINUTE_S))() == window((MINUTE_S,))()
        assert _trend(warehouse, "score_days", "day", END_S) == _trend(
            warehouse, "score_minutes", "minute", END_S)
        results[label] = {
            "scope_minutes": count,
            "window_7d_rollups_s": _median_s(window((DAY_S, 3600, MINUTE_S))),
            "window_7d_minutes_s": _median_s(window((MINUTE_S,))),
            "trend_90d_days_s": _median_s(lambda: _trend(warehouse, "score_days", "day",
                                                         END_S)),
            "trend_90d_minutes_s": _median_s(lambda: _trend(warehouse, "score_minutes",
                                                            "minute", END_S)),
        }
    return results


def report(results: dict[str, Any]) -> str:
    lines = [f"reads over {results['scopes']} scopes, a minute with data every "
             f"{results['stride_minutes']} min per scope (median of {results['runs']}):",
             f"  {'history':<10} {'scope-minutes':>14} {'7d rollups':>11} {'7d minutes':>11} "
             f"{'90d days':>9} {'90d minutes':>12}"]
    for label in ("3_months", "12_months"):
        r = results[label]
        lines.append(f"  {label:<10} {r['scope_minutes']:>14,} "
                     f"{r['window_7d_rollups_s'] * 1000:>9.0f}ms "
                     f"{r['window_7d_minutes_s'] * 1000:>9.0f}ms "
                     f"{r['trend_90d_days_s'] * 1000:>7.0f}ms "
                     f"{r['trend_90d_minutes_s'] * 1000:>10.0f}ms")
    return "\n".join(lines)


def run(settings: Settings, *, output: str | None) -> int:
    with tempfile.TemporaryDirectory(prefix="cxpulse-bench-reads-") as scratch, \
            server_base(settings, Path(scratch)) as base:
        if base is None:
            raise ValueError("bench reads needs a ClickHouse server: install clickhouse-server "
                             "or set CX_CLICKHOUSE_URL")
        warehouse = connect(f"{base}/bench_reads")
        warehouse.execute(f"DROP DATABASE IF EXISTS {warehouse.database}")
        try:
            migrate(warehouse)
            results = measure(warehouse)
        finally:
            warehouse.execute(f"DROP DATABASE IF EXISTS {warehouse.database}")
            warehouse.close()
    print(report(results))
    if output:
        Path(output).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0
