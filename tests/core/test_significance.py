"""Exact tails against brute-force sums, and the multiple-comparison adjustments."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.significance import (
    benjamini_hochberg,
    binomial_tail,
    fisher,
    holm,
    hypergeom_tail,
    needed_observations,
    normal_sf,
    rate_drop,
)


def _hypergeom_pmf(k: int, draws: int, successes: int, population: int) -> float:
    return (math.comb(successes, k) * math.comb(population - successes, draws - k)
            / math.comb(population, draws))


@given(st.integers(1, 60), st.data())
def test_hypergeometric_tails_equal_brute_force_sums(population: int, data: st.DataObject
                                                     ) -> None:
    successes = data.draw(st.integers(0, population))
    draws = data.draw(st.integers(0, population))
    k = data.draw(st.integers(-1, draws + 1))
    support = range(max(0, draws + successes - population), min(draws, successes) + 1)
    lower = sum(_hypergeom_pmf(j, draws, successes, population) for j in support if j <= k)
    upper = sum(_hypergeom_pmf(j, draws, successes, population) for j in support if j >= k)
    assert hypergeom_tail(k, draws, successes, population, lower=True) == pytest.approx(
        min(1.0, lower), rel=1e-9, abs=1e-15)
    assert hypergeom_tail(k, draws, successes, population, lower=False) == pytest.approx(
        min(1.0, upper), rel=1e-9, abs=1e-15)


@given(st.integers(0, 80), st.floats(0.0, 1.0), st.data())
def test_binomial_tails_equal_brute_force_sums(n: int, p: float, data: st.DataObject) -> None:
    k = data.draw(st.integers(-1, n + 1))
    pmf = [math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(n + 1)]
    assert binomial_tail(k, n, p, lower=True) == pytest.approx(
        min(1.0, sum(pmf[: max(0, k + 1)])), rel=1e-9, abs=1e-15)
    assert binomial_tail(k, n, p, lower=False) == pytest.approx(
        min(1.0, sum(pmf[max(0, k):])), rel=1e-9, abs=1e-15)


def test_fisher_on_a_known_table() -> None:
    # The tea-tasting table (3 of 4 right): one-sided p = 17/70.
    assert fisher(3, 4, 1, 4, lower=False) == pytest.approx(17 / 70)
    assert fisher(1, 4, 3, 4, lower=True) == pytest.approx(17 / 70)


def test_fisher_at_large_counts_is_fast_and_tiny() -> None:
    # 400 failures in 1,000 against 5% of a week's 200,000: no doubt at all.
    assert fisher(400, 1000, 10_000, 200_000, lower=False) < 1e-100
    assert fisher(52, 1000, 10_000, 200_000, lower=False) > 0.3


def test_rate_drop_of_a_channel_gone_dark() -> None:
    # 0 events in 60 minutes where 10,080 minutes held 10,080 (one a minute): p = (1 - s)^N.
    share = 60 / (60 + 10_080)
    assert rate_drop(0, 60, 10_080, 10_080) == pytest.approx((1 - share) ** 10_080)
    assert rate_drop(60, 60, 10_080, 10_080) > 0.4


def test_normal_tail() -> None:
    assert normal_sf(0.0) == pytest.approx(0.5)
    assert normal_sf(1.959964) == pytest.approx(0.025, rel=1e-5)


def test_benjamini_hochberg_matches_the_step_up_rule() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    q = benjamini_hochberg(p)
    # Sorted: 0.005, 0.01, 0.03, 0.04, 0.5 -> p*m/rank then running minimum from the top.
    assert q == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])
    assert benjamini_hochberg([]) == []


def test_holm_matches_the_step_down_rule() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


@given(st.lists(st.floats(0.0, 1.0), max_size=30))
def test_adjusted_values_are_never_below_the_raw_ones(p: list[float]) -> None:
    for adjusted in (benjamini_hochberg(p), holm(p)):
        assert all(a >= raw - 1e-12 and a <= 1.0 for a, raw in zip(adjusted, p, strict=True))


def test_needed_observations_is_the_first_n_whose_median_sample_reaches_the_bar() -> None:
    # 3% failing rising to 45%: the median count of n draws must have p <= 1e-6 at 3%.
    n = needed_observations(0.03, 0.45, 1e-6)
    assert n is not None
    assert binomial_tail(math.floor(n * 0.45), n, 0.03, lower=False) <= 1e-6
    assert all(binomial_tail(math.floor(k * 0.45), k, 0.03, lower=False) > 1e-6
               for k in range(1, n))
    assert needed_observations(0.03, 0.45, 1e-6, fewest=n + 5) == n + 5  # a rule's min_n
    assert needed_observations(0.05, 0.04, 0.5) is None  # no rise: no n ever shows one
    assert needed_observations(0.03, 0.0301, 1e-6, most=1000) is None
