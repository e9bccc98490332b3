"""Snapshots for gauges and cx.scores: bounded touchpoint labels, exact sums, on both engines."""

from __future__ import annotations

import time

import pytest

from streams.core.scores import Followups
from streams.core.stats import Stats
from streams.queries.scoring import MINUTE_COLUMNS
from streams.queries.snapshots import snapshot
from streams.queries.windows import group, score_rows
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate

MINUTE = 1_795_344_000  # seconds, a minute boundary
END_MS = (MINUTE + 60) * 1000
SCOPES = {
    ("checkout", "web"): Stats(interactions=100, nps_n=4, nps_promoters=4),
    ("search", "web"): Stats(interactions=50, nps_n=2, nps_detractors=2),
    ("returns", "web"): Stats(interactions=1, nps_n=2, nps_detractors=1),
    ("returns", "chat"): Stats(interactions=3, ces_n=1, ces_sum=5, ces_sum_sq=25),
}


@pytest.mark.integration
def test_snapshot_keeps_top_touchpoints_and_sums_the_rest(warehouse: Warehouse) -> None:
    migrate(warehouse)
    tenant = f"snap{time.monotonic_ns()}"
    warehouse.insert("score_minutes", [
        (tenant, channel, touchpoint, MINUTE, *stats.as_dict().values(), 1, MINUTE)
        for (touchpoint, channel), stats in SCOPES.items()], MINUTE_COLUMNS)
    rows = [row for row in snapshot(warehouse, now_ms=END_MS + 30_000, windows_ms=[3_600_000],
                                    deadline_ms=48 * 3_600_000, top_n=2, weights={"nps": 1})
            if row["tenant"] == tenant]
    by_scope = {(row["channel"], row["touchpoint"]): row for row in rows}
    assert set(by_scope) == {("web", "checkout"), ("web", "search"), ("web", "other"),
                             ("chat", "other"), ("web", "*"), ("chat", "*"), ("*", "*")}
    totals = {(tenant, channel, touchpoint): (stats, Followups(0, 0))
              for (touchpoint, channel), stats in SCOPES.items()}
    expected = {(r["channel"], r["touchpoint"]): r for r in score_rows(
        group(totals), end_ms=END_MS, window_ms=3_600_000, weights={"nps": 1})}
    for scope in (("web", "*"), ("chat", "*"), ("*", "*")):
        assert {k: v for k, v in by_scope[scope].items() if k != "blind_spot"} == expected[scope]
    assert by_scope[("web", "other")]["nps"] == -50.0  # the returns answers alone
    assert by_scope[("chat", "other")]["ces"] == 5.0
    # Coverage (min 5 answers): web has 8 answers, chat 1 -> chat is a blind spot.
    assert (by_scope[("web", "*")]["blind_spot"], by_scope[("chat", "*")]["blind_spot"]) == (0, 1)
    assert by_scope[("*", "*")]["blind_spot"] is None
