"""cx.scores_daily gives the scores core.scores gives for the same sums, on both engines."""

from __future__ import annotations

import random
import time

import pytest

from streams.core.scores import Followups, scores
from streams.core.stats import Stats
from streams.queries.scoring import MINUTE_COLUMNS, rewrite_rollups
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate

pytestmark = pytest.mark.integration

DAY_S = 86400
FIRST_DAY_S = 1_795_305_600 // DAY_S * DAY_S
COMPARED = ("nps", "nps_moe", "nps_n", "csat", "csat_low", "csat_high", "csat_n", "ces",
            "ces_n", "response_rate", "failure_rate", "interactions", "feedback")


def test_scores_daily_equals_core_scores(warehouse: Warehouse) -> None:
    migrate(warehouse)
    rng = random.Random(2)
    tenant = f"view{time.monotonic_ns()}"
    rows, want = [], {}
    for day in range(4):
        for channel in ("web", "voice", "chat"):
            stats = Stats()
            for minute in range(3):
                promoters, detractors = rng.randint(0, 5), rng.randint(0, 5)
                satisfied = rng.randint(0, 4)
                part = Stats(interactions=rng.randint(0, 40), failures=rng.randint(0, 2),
                             nps_n=promoters + detractors + rng.randint(0, 3),
                             nps_promoters=promoters, nps_detractors=detractors,
                             csat5_n=satisfied + rng.randint(0, 2), csat5_satisfied=satisfied,
                             ces_n=2, ces_sum=rng.randint(2, 14), ces_sum_sq=60)
                if day == 3:  # a day without answers: every score NULL
                    part = Stats(interactions=part.interactions)
                stats += part
                start = FIRST_DAY_S + day * DAY_S + minute * 3600
                rows.append((tenant, channel, "checkout", start, *part.as_dict().values(), 1,
                             start))
            want[(channel, FIRST_DAY_S + day * DAY_S)] = scores(stats, Followups(0, 0))
    warehouse.insert("score_minutes", rows, MINUTE_COLUMNS)
    rewrite_rollups(warehouse, {row[:4] for row in rows})
    got = {(row["channel"], int(row["day_s"])): row for row in warehouse.query(
        f"SELECT *, toUnixTimestamp(day) AS day_s FROM {warehouse.database}.scores_daily "
        f"WHERE tenant = '{tenant}'")}
    assert got.keys() == want.keys()
    for key, expected in want.items():
        row = got[key]
        assert row["channel_group"] == ("traditional" if key[0] == "voice" else "digital")
        for name in COMPARED:
            if expected[name] is None:
                assert row[name] is None, (key, name)
            else:
                assert row[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-9), (key, name)
