"""Scores from summed statistics (DESIGN.md, "Score definitions"), no I/O.

Units: NPS -100..100, CSAT 0-100, CES 1-7, health 0-100; response rate,
failure rate and follow-up SLA are ratios. A score without data is None.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from streams.core.stats import COMMENT_THEMES, MILLI, MINUTE_MS, THEME_PREFIX, Stats

Z95: Final = 1.96
HEALTH_COMPONENTS: Final = ("nps", "csat", "ces", "followup", "reliability")
DEFAULT_WEIGHTS: Final = dict.fromkeys(HEALTH_COMPONENTS, 1.0)
THEME_SHARES: Final = tuple(THEME_PREFIX + theme for theme in COMMENT_THEMES)
"""Per built-in theme, the share of the window's comments naming it (0-1)."""
COMMENT_KEYS: Final = ("sentiment", "sentiment_n", "negative_share", *THEME_SHARES)
SCORE_KEYS: Final = ("nps", "nps_moe", "nps_n", "csat", "csat_n", "ces", "ces_n",
                     "response_rate", "failure_rate", "followup_sla", "health", *COMMENT_KEYS)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def nps(promoters: int, detractors: int, n: int) -> tuple[float | None, float | None]:
    """NPS and its 95% margin of error."""
    if not n:
        return None, None
    p, d = promoters / n, detractors / n
    variance = max(0.0, p + d - (p - d) ** 2)
    return 100 * (p - d), Z95 * 100 * math.sqrt(variance / n)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The 95% Wilson score interval of a proportion, in percent."""
    if not n:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)


def ces_interval(total: int, total_sq: int, n: int) -> tuple[float, float] | None:
    """Normal 95% interval of the mean CES (sample standard deviation)."""
    if n < 2:
        return None
    mean = total / n
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    half = Z95 * math.sqrt(variance / n)
    return mean - half, mean + half


def comment_scores(total: Stats) -> dict[str, Any]:
    """Mean sentiment (-1..1), comments, negative share and theme shares (None without comments)."""
    n = total.comments
    out: dict[str, Any] = {
        "sentiment": total.sentiment_sum / MILLI / n if n else None, "sentiment_n": n,
        "negative_share": _ratio(total.comments_negative, n)}
    for key in THEME_SHARES:
        out[key] = _ratio(getattr(total, key), n)
    return out


def health(components: Mapping[str, float | None],
           weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> float | None:
    """Weighted mean of the 0-100 components that have data, weights renormalised."""
    present = [(value, weights.get(name, 0.0)) for name, value in components.items()
               if value is not None and weights.get(name, 0.0) > 0]
    total_weight = sum(weight for _, weight in present)
    if not total_weight:
        return None
    return sum(value * weight for value, weight in present) / total_weight


def parse_weights(text: str) -> dict[str, float]:
    """``nps=2,csat=1,...`` (CX_HEALTH_WEIGHTS); unnamed components keep weight 1."""
    weights = dict(DEFAULT_WEIGHTS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, raw = part.partition("=")
        if name not in weights:
            raise ValueError(f"unknown health component {name!r} in CX_HEALTH_WEIGHTS "
                             f"(known: {', '.join(HEALTH_COMPONENTS)})")
        try:
            weights[name] = float(raw)
        except ValueError:
            raise ValueError(f"weight of {name!r} must be a number, got {raw!r}") from None
        if weights[name] < 0 or not math.isfinite(weights[name]):
            raise ValueError(f"weight of {name!r} must be >= 0, got {raw!r}")
    return weights


@dataclass(frozen=True, slots=True)
class Followups:
    due: int
    met: int

    @property
    def overdue(self) -> int:
        return self.due - self.met


def due_bounds(end_ms: int, deadline_ms: int) -> tuple[int, int]:
    """Which minutes hold feedback due for follow-up at ``end_ms``: ``(whole, edge)``.

    A feedback at time t is due when t + deadline <= end. Every minute starting at
    or before ``whole`` counts whole; the minute starting at ``edge`` (= end -
    deadline) counts only its feedback at that very instant (the ``*_on_minute``
    statistics); later minutes are not due yet. The one statement of the rule:
    ``followups_due`` applies it in Python, ``queries.windows`` in SQL.
    """
    edge = end_ms - deadline_ms
    return edge - MINUTE_MS, edge


def followups_due(minutes: Iterable[tuple[int, Stats]], end_ms: int, window_ms: int,
                  deadline_ms: int) -> Followups:
    """Feedback in [end - window, end) needing follow-up whose deadline is <= end."""
    start = end_ms - window_ms
    whole, edge = due_bounds(end_ms, deadline_ms)
    due = met = 0
    for minute, stats in minutes:
        if not start <= minute < end_ms:
            continue
        if minute <= whole:
            due += stats.followup_needed
            met += stats.followup_met
        elif minute == edge:
            due += stats.followup_needed_on_minute
            met += stats.followup_met_on_minute
    return Followups(due, met)


def window_total(minutes: Iterable[tuple[int, Stats]], end_ms: int, window_ms: int) -> Stats:
    """Sum of the minutes in [end - window, end)."""
    total = Stats()
    for minute, stats in minutes:
        if end_ms - window_ms <= minute < end_ms:
            total += stats
    return total


def scores(total: Stats, followups: Followups,
           weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> dict[str, Any]:
    """Every score of a window, keyed as in DESIGN.md, plus intervals and counts."""
    nps_value, nps_moe = nps(total.nps_promoters, total.nps_detractors, total.nps_n)
    csat_ratio = _ratio(total.csat_satisfied, total.csat_n)
    csat_ci = wilson(total.csat_satisfied, total.csat_n)
    ces_value = _ratio(total.ces_sum, total.ces_n)
    ces_ci = ces_interval(total.ces_sum, total.ces_sum_sq, total.ces_n)
    failure_rate = _ratio(total.failures, total.interactions)
    sla = _ratio(followups.met, followups.due)
    components = {
        "nps": None if nps_value is None else (nps_value + 100) / 2,
        "csat": None if csat_ratio is None else 100 * csat_ratio,
        "ces": None if ces_value is None else (ces_value - 1) / 6 * 100,
        "followup": None if sla is None else 100 * sla,
        "reliability": None if failure_rate is None else 100 * (1 - failure_rate),
    }
    return {
        "nps": nps_value, "nps_moe": nps_moe, "nps_n": total.nps_n,
        "csat": None if csat_ratio is None else 100 * csat_ratio,
        "csat_low": csat_ci[0] if csat_ci else None,
        "csat_high": csat_ci[1] if csat_ci else None, "csat_n": total.csat_n,
        "ces": ces_value, "ces_low": ces_ci[0] if ces_ci else None,
        "ces_high": ces_ci[1] if ces_ci else None, "ces_n": total.ces_n,
        "response_rate": _ratio(total.feedback, total.interactions),
        "failure_rate": failure_rate, "interactions": total.interactions,
        "feedback": total.feedback,
        "followup_sla": sla, "followup_due": followups.due,
        "followup_overdue": followups.overdue,
        "health": health(components, weights),
        **comment_scores(total),
    }


def is_blind_spot(interactions: int, answers: int, min_answers: int) -> bool:
    """Coverage: interactions happen but fewer than ``min_answers`` feedback answers come back."""
    return interactions > 0 and answers < min_answers
