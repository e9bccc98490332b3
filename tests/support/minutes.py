"""Random ``score_minutes`` rows for read tests: sparse scopes, consistent follow-up counts."""

from __future__ import annotations

import random

from streams.core.stats import Stats

SCOPES = (("web", "checkout"), ("web", "search"), ("chat", "support"))


def random_minutes(tenant: str, rng: random.Random, start_s: int, end_s: int,
                   skip: float) -> list[tuple]:
    """Rows in ``MINUTE_COLUMNS`` order for minutes in [start, end), each scope present with
    probability ``1 - skip``."""
    rows = []
    for minute in range(start_s, end_s, 60):
        for channel, touchpoint in SCOPES:
            if rng.random() < skip:
                continue
            needed = rng.randint(0, 3)
            met = rng.randint(0, needed)
            on = min(needed, rng.randint(0, 1))
            stats = Stats(interactions=rng.randint(1, 9), failures=rng.randint(0, 1),
                          nps_n=3, nps_promoters=rng.randint(0, 2), nps_detractors=1,
                          csat5_n=1, csat5_satisfied=rng.randint(0, 1), ces_n=2,
                          ces_sum=rng.randint(2, 14), ces_sum_sq=rng.randint(4, 98),
                          followup_needed=needed, followup_met=met,
                          followup_needed_on_minute=on, followup_met_on_minute=min(on, met))
            rows.append((tenant, channel, touchpoint, minute, *stats.as_dict().values(), 1,
                         minute))
    return rows
