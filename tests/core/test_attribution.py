"""Attribution: exact shares, rate and mix effects, narrowing, theme surges (by hand)."""

from __future__ import annotations

from fractions import Fraction as F

from streams.core.attribution import RATIO_METRICS, attribute, surges
from streams.core.drops import DROP_METRICS
from streams.core.stats import ALL, Stats


def fails(interactions: int, failures: int) -> Stats:
    return Stats(interactions=interactions, failures=failures)


def test_checkout_explains_the_rise_in_failure_rate() -> None:
    # Baseline 8 failures in 400 (R0 = 1/50); recent 37 in 400, equal volumes (no mix).
    leaves = {("app", "checkout"): (fails(100, 30), fails(100, 2)),
              ("app", "login"): (fails(100, 3), fails(100, 2)),
              ("web", "home"): (fails(200, 4), fails(200, 4))}
    found = attribute("failure_rate", ("acme", ALL, ALL), leaves)
    assert found is not None
    assert (found.value, found.baseline, found.change) == (F(37, 400), F(1, 50), F(29, 400))
    by_leaf = {(p.channel, p.touchpoint): p for p in found.touchpoints}
    # checkout: 1/4 (3/10 - 1/50) = 28/400; login: 1/4 (3/100 - 2/100) = 1/400.
    assert by_leaf["app", "checkout"].contribution == F(28, 400)
    assert by_leaf["app", "checkout"].share == F(28, 29)
    assert by_leaf["app", "login"].share == F(1, 29)
    assert by_leaf["web", "home"].contribution == 0
    assert all(p.mix_effect == 0 for p in found.touchpoints)
    assert sum(p.contribution for p in found.touchpoints) == found.change
    assert [(p.channel, p.share) for p in found.channels] == [("app", 1), ("web", 0)]
    assert found.cause == ("acme", "app", "checkout")
    assert found.cause_share == F(28, 29)
    assert found.sentence() == "checkout explains 97% of the rise in acme failure_rate"
    assert found.as_dict()["cause"] == {"channel": "app", "touchpoint": "checkout",
                                        "share": 28 / 29}


def test_a_shift_of_volume_is_a_mix_effect_and_nothing_narrows() -> None:
    # A keeps its 10% failure rate but triples its volume; B keeps 0%.
    leaves = {("app", "a"): (fails(300, 30), fails(100, 10)),
              ("app", "b"): (fails(100, 0), fails(100, 0))}
    found = attribute("failure_rate", ("acme", "app", ALL), leaves)
    assert found is not None
    assert found.change == F(1, 40)
    assert found.channels == ()
    for part in found.touchpoints:
        assert (part.contribution, part.rate_effect, part.mix_effect, part.share) == (
            F(1, 80), 0, F(1, 80), F(1, 2))
    assert (found.cause, found.cause_share) == (("acme", "app", ALL), 1)
    assert found.sentence() == ("rise in app failure_rate; no narrower scope explains 75% "
                                "of it")


def test_nps_drop_with_a_touchpoint_new_in_the_window() -> None:
    leaves = {("app", "checkout"): (Stats(nps_n=10, nps_promoters=2, nps_detractors=6),
                                    Stats(nps_n=10, nps_promoters=5, nps_detractors=1)),
              ("app", "login"): (Stats(nps_n=10, nps_promoters=5, nps_detractors=1), Stats()),
              ("web", "home"): (Stats(nps_n=99, nps_promoters=99), Stats(nps_n=1))}
    found = attribute("nps", ("acme", "app", ALL), leaves)
    assert found is not None
    assert (found.value, found.baseline) == (0, 40)
    checkout, login = found.touchpoints
    # checkout: 1/2 (-40 - 40) - 1 (40 - 40) = -40 = rate -60 + mix 20.
    assert (checkout.touchpoint, checkout.contribution, checkout.rate_effect,
            checkout.mix_effect, checkout.share) == ("checkout", -40, -60, 20, 1)
    assert (login.contribution, login.rate_effect, login.baseline) == (0, 0, None)
    assert found.cause == ("acme", "app", "checkout")
    assert found.sentence() == "checkout explains 100% of the drop in app nps"


def test_below_the_threshold_the_scope_stays() -> None:
    leaves = {("app", "a"): (fails(100, 7), fails(100, 1)),
              ("app", "b"): (fails(100, 3), fails(100, 1))}
    found = attribute("failure_rate", ("acme", "app", ALL), leaves)
    assert found is not None
    assert found.touchpoints[0].share == F(3, 4)
    assert found.cause == ("acme", "app", "a")
    stricter = attribute("failure_rate", ("acme", "app", ALL), leaves, explains=F(4, 5))
    assert stricter is not None
    assert stricter.cause == ("acme", "app", ALL)


def test_sentiment_is_in_its_unit_and_ces_is_a_mean() -> None:
    leaves = {("app", "x"): (Stats(comments=4, sentiment_sum=-2000, ces_n=2, ces_sum=4),
                             Stats(comments=4, sentiment_sum=1000, ces_n=2, ces_sum=10))}
    sentiment = attribute("sentiment", ("acme", "app", "x"), leaves)
    assert sentiment is not None
    assert (sentiment.value, sentiment.baseline) == (F(-1, 2), F(1, 4))
    assert sentiment.sentence() == "drop in app x sentiment"
    ces = attribute("ces", ("acme", ALL, ALL), leaves)
    assert ces is not None
    assert (ces.value, ces.baseline, ces.cause) == (2, 5, ("acme", "app", "x"))


def test_what_cannot_be_split_is_none() -> None:
    same = {("app", "x"): (fails(10, 1), fails(10, 1))}
    assert attribute("failure_rate", ("acme", "app", "x"), same) is None
    assert attribute("failure_rate", ("acme", "app", "x"), {}) is None
    assert attribute("health", ("acme", "app", "x"), same) is None
    assert attribute("failure_rate", ("acme", "web", ALL), same) is None
    assert set(RATIO_METRICS) == set(DROP_METRICS) - {"health", "followup_sla"}


def test_theme_surges_with_their_ratio_to_baseline() -> None:
    recent = Stats(comments=10, theme_delivery=5, theme_payment=3, theme_price=1)
    baseline = Stats(comments=20, theme_delivery=2, theme_price=0)
    found = surges(recent, baseline)
    assert [(s.theme, s.comments, s.ratio) for s in found] == [("payment", 3, None),
                                                              ("delivery", 5, 5)]
    assert found[1].as_dict() == {"theme": "delivery", "comments": 5, "share": 0.5,
                                  "baseline_share": 0.1, "ratio": 5.0}
    assert surges(Stats(), baseline) == ()
    assert surges(recent, baseline, ratio=F(6)) == (found[0],)


def test_worse_follows_the_direction_alerts_fire_on() -> None:
    rising = attribute("failure_rate", ("acme", "app", "x"),
                       {("app", "x"): (fails(10, 5), fails(10, 1))})
    recovering = attribute("failure_rate", ("acme", "app", "x"),
                           {("app", "x"): (fails(10, 1), fails(10, 5))})
    nps_drop = attribute("nps", ("acme", "app", "x"),
                         {("app", "x"): (Stats(nps_n=2, nps_detractors=1), Stats(nps_n=1))})
    assert rising is not None and recovering is not None and nps_drop is not None
    assert (rising.worse, recovering.worse, nps_drop.worse) == (True, False, True)


def test_a_share_above_all_of_it_says_the_rest_moved_the_other_way() -> None:
    # checkout +10 failures, login -2 of 100 each: checkout's share is 10/8.
    leaves = {("web", "checkout"): (fails(100, 12), fails(100, 2)),
              ("web", "login"): (fails(100, 0), fails(100, 2))}
    found = attribute("failure_rate", ("acme", "web", ALL), leaves)
    assert found is not None
    assert (found.cause, found.cause_share) == (("acme", "web", "checkout"), F(5, 4))
    assert found.sentence() == ("checkout explains all of the rise in web failure_rate "
                                "(125%: the rest moved the other way)")
