"""Exact tail probabilities and multiple-comparison control for drop detection, no I/O.

Small channels give small counts, where normal approximations of a proportion
are far off in the tail that decides an alert. So proportions are compared with
Fisher's exact test and rates (events per minute) with the exact conditional
binomial test; only means (NPS, CES, health) use a z statistic with the
variance pooled under the null hypothesis, as DESIGN.md defines them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Final

_TINY: Final = 1e-17
"""Stop summing a tail once a term adds less than this share of the sum."""


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _tail(first: float, ratio: Callable[[int], float], k: int, stop: int, step: int) -> float:
    """Sum pmf(k), pmf(k+step), ... up to ``stop`` from pmf(k) = ``first`` and term ratios."""
    total = term = first
    while k != stop:
        term *= ratio(k)
        k += step
        total += term
        if term < _TINY * total:
            break
    return min(1.0, total)


def hypergeom_tail(k: int, draws: int, successes: int, population: int, *, lower: bool) -> float:
    """P(X <= k) (``lower``) or P(X >= k) for X ~ Hypergeometric(population, successes, draws)."""
    low = max(0, draws + successes - population)
    high = min(draws, successes)
    if (k >= high) if lower else (k <= low):
        return 1.0
    if (k < low) if lower else (k > high):
        return 0.0
    mode = (draws + 1) * (successes + 1) // (population + 2)
    if lower and k >= mode:  # sum from the far side: terms shrink away from the mode
        return max(0.0, 1.0 - hypergeom_tail(k + 1, draws, successes, population, lower=False))
    if not lower and k <= mode:
        return max(0.0, 1.0 - hypergeom_tail(k - 1, draws, successes, population, lower=True))
    failures = population - successes
    first = math.exp(_log_choose(successes, k) + _log_choose(failures, draws - k)
                     - _log_choose(population, draws))
    if lower:  # pmf(j-1)/pmf(j)
        return _tail(first, lambda j: j * (failures - draws + j)
                     / ((successes - j + 1) * (draws - j + 1)), k, low, -1)
    return _tail(first, lambda j: (successes - j) * (draws - j)  # pmf(j+1)/pmf(j)
                 / ((j + 1) * (failures - draws + j + 1)), k, high, 1)


def fisher(a: int, n1: int, c: int, n2: int, *, lower: bool) -> float:
    """One-sided Fisher exact test of a/n1 against c/n2: is the first share lower (higher)?"""
    return hypergeom_tail(a, n1, a + c, n1 + n2, lower=lower)


def binomial_tail(k: int, n: int, p: float, *, lower: bool) -> float:
    """P(X <= k) (``lower``) or P(X >= k) for X ~ Binomial(n, p)."""
    if (k >= n) if lower else (k <= 0):
        return 1.0
    if k < 0 or k > n:
        return 0.0
    if p <= 0.0:
        return 1.0 if lower else 0.0
    if p >= 1.0:
        return 0.0 if lower else 1.0
    mode = math.floor((n + 1) * p)
    if lower and k >= mode:  # sum from the far side: terms shrink away from the mode
        return max(0.0, 1.0 - binomial_tail(k + 1, n, p, lower=False))
    if not lower and k <= mode:
        return max(0.0, 1.0 - binomial_tail(k - 1, n, p, lower=True))
    odds = p / (1 - p)
    first = math.exp(_log_choose(n, k) + k * math.log(p) + (n - k) * math.log1p(-p))
    if lower:
        return _tail(first, lambda j: j / ((n - j + 1) * odds), k, 0, -1)
    return _tail(first, lambda j: (n - j) * odds / (j + 1), k, n, 1)


def rate_drop(recent: int, recent_minutes: float, baseline: int, baseline_minutes: float
              ) -> float:
    """P-value that events per minute fell: exact test of two Poisson counts.

    Given the total, the recent count is Binomial(total, recent share of the time)
    under an unchanged rate; a low recent count is the evidence.
    """
    share = recent_minutes / (recent_minutes + baseline_minutes)
    return binomial_tail(recent, recent + baseline, share, lower=True)


def normal_sf(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Adjusted p-values (q-values): reject where q <= the false discovery rate wanted.

    Valid under independence and positive dependence, which is what overlapping
    windows and nested scopes (a channel inside its tenant) give.
    """
    m = len(p_values)
    order = sorted(range(m), key=p_values.__getitem__)
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        index = order[rank - 1]
        running = min(running, p_values[index] * m / rank)
        adjusted[index] = min(1.0, running)
    return adjusted


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values: controls the chance of any false alarm."""
    m = len(p_values)
    order = sorted(range(m), key=p_values.__getitem__)
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, p_values[index] * (m - rank)))
        adjusted[index] = running
    return adjusted


def needed_observations(p0: float, p1: float, bar: float, *, fewest: int = 1,
                        most: int = 20_000) -> int | None:
    """The fewest observations at which a typical sample of a share risen from ``p0`` to
    ``p1`` (its median count) reaches a p-value of ``bar``, even in the exact test that
    knows ``p0``: what any test needs, whatever its design. None if more than ``most``.
    """
    if p1 <= p0:
        return None
    return next((n for n in range(max(1, fewest), most + 1)
                 if binomial_tail(math.floor(n * p1), n, p0, lower=False) <= bar), None)
