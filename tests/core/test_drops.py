"""Drop detection on hand-made spans: exact decisions, noise never pages, real drops do."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from streams.core.drops import (
    DEFAULT_ONSETS_MS,
    Comparison,
    DetectorConfig,
    FollowupBounds,
    Span,
    backlog_verdicts,
    describe,
    findings,
    judge,
    parse_bounds,
    parse_rules,
    verdicts,
)
from streams.core.scores import Followups
from streams.core.significance import fisher
from streams.core.stats import ALL, Stats

HOUR_MS = 3_600_000
WEEK_MIN = 7 * 24 * 60
CONFIG = DetectorConfig()


def span(minutes: float, due: int = 0, met: int = 0, **counts: int) -> Span:
    return Span(Stats(**counts), Followups(due, met), minutes)


def nps_span(minutes: float, n: int, promoters: float, detractors: float) -> Span:
    return span(minutes, nps_n=n, nps_promoters=round(n * promoters),
                nps_detractors=round(n * detractors))


def compare(recent: Span, baseline: Span, scope: tuple[str, str, str] = ("t", "web", ALL),
            window_ms: int = HOUR_MS) -> Comparison:
    return Comparison(scope, window_ms, recent, baseline)


def test_nps_drop_on_enough_answers_fires_with_its_evidence() -> None:
    before = nps_span(WEEK_MIN, 5000, 0.5, 0.2)  # NPS 30
    now = nps_span(60, 80, 0.25, 0.5)  # NPS -25
    verdict = judge([compare(now, before)], {}, CONFIG)[("t", "web", ALL, "nps")]
    assert verdict.alarm is not None and not verdict.clear
    assert verdict.alarm.value == pytest.approx(-25) and verdict.alarm.baseline == pytest.approx(30)
    assert verdict.alarm.effect == pytest.approx(55) and verdict.alarm.p_value < 1e-7
    # From 100 answers on, the normal test with DESIGN.md's variance: the same shares.
    many = judge([compare(nps_span(60, 400, 0.25, 0.5), before)], {}, CONFIG)
    assert many[("t", "web", ALL, "nps")].alarm.p_value < 1e-20


def test_a_handful_of_answers_is_judged_exactly() -> None:
    before = nps_span(WEEK_MIN, 5000, 0.8, 0.05)  # NPS 75
    # 4 detractors of 10 where 5% is usual: Fisher says about 1e-3, far from paging,
    # where a normal approximation would claim ~1e-4 or less.
    few = judge([compare(span(60, nps_n=10, nps_promoters=5, nps_detractors=4), before)], {},
                CONFIG)[("t", "web", ALL, "nps")]
    assert few.alarm is None and 1e-4 < few.current.p_value < 1e-2
    collapse = judge([compare(span(60, nps_n=12, nps_promoters=0, nps_detractors=10), before)],
                     {}, CONFIG)[("t", "web", ALL, "nps")]
    assert collapse.alarm is not None and collapse.alarm.p_value < 1e-9


def test_a_rise_is_not_a_drop_and_polarity_follows_the_metric() -> None:
    before = span(WEEK_MIN, interactions=10_000, failures=500, nps_n=5000, nps_promoters=1000,
                  nps_detractors=2500)
    better = span(60, interactions=100, failures=0, nps_n=80, nps_promoters=60, nps_detractors=0)
    worse = span(60, interactions=100, failures=40, nps_n=80, nps_promoters=16, nps_detractors=40)
    assert not any(v.alarm for v in judge([compare(better, before)], {}, CONFIG).values())
    fired = {key[3] for key, v in judge([compare(worse, before)], {}, CONFIG).items() if v.alarm}
    assert "failure_rate" in fired


def test_below_the_minimum_sample_nothing_is_tested() -> None:
    before = nps_span(WEEK_MIN, 5000, 0.5, 0.2)
    now = nps_span(60, 9, 0.0, 1.0)  # every answer a detractor, but only 9 < min_n 10
    assert ("t", "web", ALL, "nps") not in judge([compare(now, before)], {}, CONFIG)
    lowered = DetectorConfig(rules=parse_rules("nps.min_n=5"))
    assert judge([compare(now, before)], {}, lowered)[("t", "web", ALL, "nps")].alarm


def test_a_significant_but_small_change_does_not_page() -> None:
    before = nps_span(WEEK_MIN, 200_000, 0.5, 0.2)  # NPS 30
    now = nps_span(60, 20_000, 0.45, 0.25)  # NPS 20: certain, but 10 < 15 points
    verdict = judge([compare(now, before)], {}, CONFIG)[("t", "web", ALL, "nps")]
    assert verdict.alarm is None and not verdict.clear  # not paging, and not clear either
    slight = judge([compare(nps_span(60, 20_000, 0.48, 0.22), before)], {}, CONFIG)
    assert slight[("t", "web", ALL, "nps")].clear  # 4 points: under half the minimum


def test_low_volume_failure_spike_is_caught_within_hours() -> None:
    # A few dozen interactions an hour, 4% failing for a week, then a third failing.
    before = span(WEEK_MIN, interactions=30 * 168, failures=round(30 * 168 * 0.04))
    after_one_hour = span(60, interactions=30, failures=10)
    after_six = span(360, interactions=180, failures=60)
    found = judge([compare(after_one_hour, before), compare(after_six, before,
                                                            window_ms=6 * HOUR_MS)], {}, CONFIG)
    alarm = found[("t", "web", ALL, "failure_rate")].alarm
    assert alarm is not None and alarm.p_value < 1e-6


def test_many_scopes_of_pure_noise_never_page() -> None:
    """Binomial noise on 3 tenants x 8 channels x 6 touchpoints x 2 windows, 100 passes."""
    rng = random.Random(4)
    scopes = [(f"t{t}", f"c{c}", f"p{p}") for t in range(3) for c in range(8) for p in range(6)]
    alarms = 0
    for _ in range(100):
        comparisons = []
        for scope in scopes:
            for window in (HOUR_MS, 6 * HOUR_MS):
                minutes = window // 60_000
                rate = rng.choice([0.5, 2, 10])  # interactions per minute
                comparisons.append(compare(_noisy(rng, minutes, rate),
                                           _noisy(rng, WEEK_MIN, rate), scope, window))
        alarms += sum(v.alarm is not None for v in judge(comparisons, {}, CONFIG).values())
    assert alarms == 0


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if n < 100:
        return sum(rng.random() < p for _ in range(n))
    return min(n, max(0, round(rng.gauss(n * p, (n * p * (1 - p)) ** 0.5))))


def _noisy(rng: random.Random, minutes: int, rate: float) -> Span:
    interactions = _binomial(rng, round(minutes * rate * 2), 0.5)
    answers = _binomial(rng, interactions, 0.3)
    promoters = _binomial(rng, answers, 0.5)
    detractors = _binomial(rng, answers - promoters, 0.4)
    return span(minutes, interactions=interactions, failures=_binomial(rng, interactions, 0.05),
                nps_n=answers, nps_promoters=promoters, nps_detractors=detractors)


def test_benjamini_hochberg_raises_the_bar_with_the_number_of_hypotheses() -> None:
    before = nps_span(WEEK_MIN, 5000, 0.5, 0.2)
    borderline = nps_span(60, 25, 0.28, 0.36)  # NPS -8: 38 points down on 25 answers
    alone = findings([compare(borderline, before)], CONFIG)
    crowd = findings([compare(borderline, before)] + [
        compare(nps_span(60, 25, 0.5, 0.2), before, scope=("t", f"c{i}", ALL))
        for i in range(2000)], CONFIG)
    nps_alone = next(f for f in alone if f.metric == "nps")
    nps_crowd = next(f for f in crowd if f.metric == "nps" and f.scope[1] == "web")
    assert nps_alone.p_value == nps_crowd.p_value
    assert nps_crowd.q_value > nps_alone.q_value


def test_silent_channel_on_collapsed_volume_only_for_channel_scopes() -> None:
    before = span(WEEK_MIN, interactions=WEEK_MIN, nps_n=WEEK_MIN // 4)
    dark = span(60, interactions=60, nps_n=0)  # the survey widget broke
    verdicts = judge([compare(dark, before)], {}, CONFIG)
    silent = verdicts[("t", "web", ALL, "silent_channel")]
    assert silent.alarm is not None and silent.alarm.measure in ("feedback", "response_rate")
    touchpoint = judge([compare(dark, before, scope=("t", "web", "checkout"))], {}, CONFIG)
    assert ("t", "web", "checkout", "silent_channel") not in touchpoint


def test_backlog_bounds_per_tenant_with_hysteresis() -> None:
    config = DetectorConfig(bounds=parse_bounds("overdue=50,sla=0.7;acme:overdue=10,sla=0.9"))
    backlog = {"acme": span(WEEK_MIN, due=100, met=88), "other": span(WEEK_MIN, due=100, met=88)}
    verdicts = backlog_verdicts(backlog, config, 7 * 24 * HOUR_MS)
    assert verdicts[("acme", ALL, ALL, "followup_overdue")].alarm is not None
    assert verdicts[("acme", ALL, ALL, "followup_sla_floor")].alarm is not None
    assert verdicts[("other", ALL, ALL, "followup_overdue")].alarm is None
    between = backlog_verdicts({"acme": span(WEEK_MIN, due=100, met=91)}, config, 1)
    assert between[("acme", ALL, ALL, "followup_overdue")].alarm is None
    assert not between[("acme", ALL, ALL, "followup_overdue")].clear  # 9 > 0.8 * 10


@pytest.mark.parametrize(("text", "message"), [
    ("nps.min_effect", "is not name=value"),
    ("nope.min_n=3", "unknown metric 'nope'"),
    ("nps.speed=3", "unknown setting 'speed'"),
    ("nps.min_n=-1", "must be a number >= 0"),
])
def test_rule_settings_fail_with_the_variable_named(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rules(text)


def test_bound_settings() -> None:
    assert parse_bounds("")[ALL] == FollowupBounds()
    bounds = parse_bounds("overdue=20;acme:sla=0.95")
    assert bounds["acme"] == FollowupBounds(overdue_max=20, sla_min=0.95)
    assert ("t", ALL, ALL, "followup_overdue") not in backlog_verdicts(
        {"t": span(WEEK_MIN, due=900, met=0)}, DetectorConfig(), 1)  # no bound: off
    with pytest.raises(ValueError, match="share 0-1"):
        parse_bounds("sla=5")
    with pytest.raises(ValueError, match="unknown bound"):
        parse_bounds("late=5")


def test_followup_sla_compares_the_cases_that_came_due() -> None:
    before = span(WEEK_MIN, due=700, met=560)  # 80% met in time
    nobody_called = span(360, due=40, met=4)
    verdict = judge([compare(nobody_called, before, window_ms=6 * HOUR_MS)], {}, CONFIG)
    alarm = verdict[("t", "web", ALL, "followup_sla")].alarm
    assert alarm is not None and alarm.value == pytest.approx(0.1) and alarm.n == 40


def comments_span(minutes: float, n: int, mean: float, spread: float, negative: float,
                  **themes: float) -> Span:
    """``n`` comments, half at mean - spread and half at mean + spread (in -1..1)."""
    low, high = round((mean - spread) * 1000), round((mean + spread) * 1000)
    half = n // 2
    return span(minutes, comments=n, sentiment_sum=half * low + (n - half) * high,
                sentiment_sum_sq=half * low * low + (n - half) * high * high,
                comments_negative=round(n * negative),
                **{f"theme_{name}": round(n * share) for name, share in themes.items()})


def test_sentiment_drop_negative_rise_and_theme_surge_fire() -> None:
    before = comments_span(WEEK_MIN, 3000, 0.3, 0.5, 0.2, delivery=0.1, price=0.1)
    now = comments_span(60, 60, -0.2, 0.5, 0.55, delivery=0.45, price=0.1)
    found = judge([compare(now, before)], {}, CONFIG)
    fired = {key[3]: v.alarm for key, v in found.items() if v.alarm}
    assert set(fired) == {"sentiment", "negative_share", "theme_delivery"}
    assert fired["sentiment"].value == pytest.approx(-0.2)
    assert fired["sentiment"].baseline == pytest.approx(0.3)
    assert fired["theme_delivery"].effect == pytest.approx(0.35)
    assert "sentiment fell from 0.300 to -0.200" in describe(fired["sentiment"])
    assert "theme_delivery rose from 0.100 to 0.450" in describe(fired["theme_delivery"])
    assert not found[("t", "web", ALL, "theme_price")].alarm


def test_comment_metrics_need_their_sample_and_a_worsening() -> None:
    before = comments_span(WEEK_MIN, 3000, 0.3, 0.5, 0.2, delivery=0.1)
    few = comments_span(60, 29, -0.8, 0.1, 1.0, delivery=1.0)  # below min_n 30
    assert not any(key[3] in ("sentiment", "negative_share", "theme_delivery")
                   for key in judge([compare(few, before)], {}, CONFIG))
    better = comments_span(60, 200, 0.8, 0.1, 0.0, delivery=0.0)
    assert not any(v.alarm for v in judge([compare(better, before)], {}, CONFIG).values())
    tuned = DetectorConfig(rules=parse_rules("theme_delivery.min_n=5,sentiment.min_effect=2"))
    fired = {key[3] for key, v in judge([compare(few, before)], {}, tuned).items() if v.alarm}
    assert "theme_delivery" in fired and "sentiment" not in fired


# --- the sequential detector: candidate onsets ------------------------------------------------

SEQUENTIAL = DetectorConfig(onsets_ms=DEFAULT_ONSETS_MS)


def onsets(recent: dict[int, Span], baseline: Span, scope: tuple[str, str, str] = ("t", "web", ALL)
           ) -> list[Comparison]:
    """Each candidate onset (minutes ago -> its span) against the one baseline before them."""
    return [Comparison(scope, minutes * 60_000, got, baseline, onset=True)
            for minutes, got in recent.items()]


def test_the_sequential_detector_tests_each_onset_exactly_and_pays_for_choosing() -> None:
    before = span(WEEK_MIN, interactions=9072, failures=363)  # 54 an hour, 4% failing
    # Failing since 30 minutes ago: ~40% of the interactions since then.
    recent = {10: (9, 4), 20: (18, 7), 30: (27, 10), 60: (54, 11), 120: (108, 14),
              180: (162, 16), 360: (324, 22)}
    spans = {m: span(m, interactions=n, failures=x) for m, (n, x) in recent.items()}
    found = findings(onsets(spans, before), SEQUENTIAL)
    [rate] = [f for f in found if f.metric == "failure_rate"]
    # 10 and 20 minutes hold too few interactions (min_n 20); 30 minutes fits best.
    assert rate.onset and rate.window_ms == 30 * 60_000 and (rate.n, rate.value) == (27, 10 / 27)
    exact = fisher(10, 27, 363, 9072, lower=False)  # hypergeometric, no approximation
    assert rate.p_value == pytest.approx(len(DEFAULT_ONSETS_MS) * exact, rel=1e-12)
    assert rate.p_value < fisher(11, 54, 363, 9072, lower=False)  # the 1h window's own test
    verdict = judge(onsets(spans, before), {}, SEQUENTIAL)[("t", "web", ALL, "failure_rate")]
    assert verdict.alarm == rate and not verdict.clear
    assert "over 30m" in describe(rate)


def test_a_handful_is_judged_exactly_by_the_sequential_detector_too() -> None:
    before = nps_span(WEEK_MIN, 5000, 0.8, 0.05)  # NPS 75
    few = {60: span(60, nps_n=10, nps_promoters=5, nps_detractors=4)}
    [nps] = [f for f in findings(onsets(few, before), SEQUENTIAL) if f.metric == "nps"]
    assert nps.p_value == pytest.approx(len(DEFAULT_ONSETS_MS) * min(1.0, 2 * fisher(
        4, 10, 250, 5000, lower=False)), rel=1e-12)
    assert nps.q_value is not None and nps.q_value > CONFIG.fdr  # no page on 4 of 10


def test_the_windows_judge_whether_it_goes_on_and_an_onset_alone_can_page() -> None:
    before = span(WEEK_MIN, interactions=9072, failures=363)
    spike = {30: span(30, interactions=27, failures=12)}
    window = compare(span(60, interactions=54, failures=3), before)  # the hour looks normal
    both = judge([window, *onsets(spike, before)], {}, SEQUENTIAL)
    verdict = both[("t", "web", ALL, "failure_rate")]
    # The onset alarms, but the freshest window shows nothing going on: no firing (step).
    assert verdict.alarm is not None and verdict.alarm.onset and verdict.clear
    quiet = replace(SEQUENTIAL, window_alarms=False)
    alone = judge([compare(span(60, interactions=54, failures=14), before),
                   *onsets(spike, before)], {}, quiet)[("t", "web", ALL, "failure_rate")]
    assert alone.alarm is not None and alone.alarm.onset and not alone.clear
    assert alone.current is not None and not alone.current.onset  # the window reports now


def test_steady_noise_never_pages_the_sequential_detector() -> None:
    """Binomial noise on 3 tenants x 8 channels x 6 touchpoints x 7 onsets + 2 windows."""
    rng = random.Random(5)
    scopes = [(f"t{t}", f"c{c}", f"p{p}") for t in range(3) for c in range(8) for p in range(6)]
    alarms = tested = 0
    for _ in range(20):
        comparisons = []
        for scope in scopes:
            rate = rng.choice([0.5, 2, 10])  # interactions per minute
            before = _noisy(rng, WEEK_MIN, rate)
            comparisons += [compare(_noisy(rng, w // 60_000, rate), before, scope, w)
                            for w in SEQUENTIAL.windows_ms]
            comparisons += onsets({o // 60_000: _noisy(rng, o // 60_000, rate)
                                   for o in DEFAULT_ONSETS_MS}, before, scope)
        found = findings(comparisons, SEQUENTIAL)
        tested += sum(f.onset for f in found)
        alarms += sum(v.alarm is not None for v in verdicts(found, SEQUENTIAL).values())
    assert alarms == 0 and tested > 20 * len(scopes)
