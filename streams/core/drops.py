"""Drop detection: which scores got worse by more than noise, per scope and recent window. No I/O.

Each evaluation pass compares every scope's recent windows (default 1 h and 6 h)
with the baseline just before each window (default 7 days) and tests, per
metric, whether the recent window is worse. A window *alarms* for a metric when
all hold:

- the sample is big enough (``Rule.min_n`` in the window, ``min_baseline_n`` before it);
- the worsening is at least ``Rule.min_effect`` (polarity is part of the metric:
  a rising failure rate is a drop in quality);
- the change is significant after Benjamini-Hochberg across every hypothesis of
  the pass (all scopes, metrics and windows), at ``DetectorConfig.fdr``.

Several windows catch different incidents: a sharp drop shows in the short one
at once, a slow one on a small channel only in the long one. The freshest
window with enough data decides whether an incident is still going on, so a
long window still holding a past incident neither keeps an alert open nor
fires it again (see ``Verdict``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Final

from streams.core.scores import DEFAULT_WEIGHTS, Followups
from streams.core.significance import benjamini_hochberg, fisher, normal_sf, rate_drop
from streams.core.stats import ALL, COMMENT_THEMES, MILLI, THEME_PREFIX, Scope, Stats
from streams.core.units import format_window

SILENT: Final = "silent_channel"
OVERDUE: Final = "followup_overdue"
SLA_FLOOR: Final = "followup_sla_floor"
THEME_METRICS: Final = tuple(THEME_PREFIX + theme for theme in COMMENT_THEMES)
"""A surge of one built-in theme: its share of the comments rose."""
COMMENT_METRICS: Final = ("sentiment", "negative_share", *THEME_METRICS)
DROP_METRICS: Final = ("nps", "csat", "ces", "unhappy_share", "failure_rate", "response_rate",
                       "followup_sla", "health", *COMMENT_METRICS)
METRICS: Final = (*DROP_METRICS, SILENT, OVERDUE, SLA_FLOOR)

RATIOS: Final = ("unhappy_share", "failure_rate", "response_rate", "followup_sla",
                 "negative_share", *THEME_METRICS)
"""Metrics that are ratios 0-1 (shown with three decimals, as is ``sentiment``)."""
RISING: Final = ("unhappy_share", "failure_rate", "negative_share", *THEME_METRICS)
"""Metrics where higher is worse."""

AlertKey = tuple[str, str, str, str]
"""(tenant, channel, touchpoint, metric)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """When one metric alarms. Effects are in the metric's own units, worse is positive."""

    min_effect: float
    """The smallest worsening worth a page."""
    critical_effect: float
    """A worsening this large pages as ``critical``, smaller ones as ``warning``."""
    min_n: int
    """Fewest observations in a recent window: answers, interactions or due follow-ups."""
    min_baseline_n: int = 50
    """Fewest observations in the baseline: below it the scope has no norm to drop from."""
    dispersion: float = 1.0
    """How much more counts vary than independent events would (quasi-Poisson): counts
    are divided by it before the exact test, so clustered arrivals do not page."""


DEFAULT_RULES: Final[Mapping[str, Rule]] = {
    # NPS points: its 95% margin of error is about +-15 at n = 100 answers. Below 100
    # answers the test is exact, so 10 answers can already show a collapse.
    "nps": Rule(min_effect=15.0, critical_effect=30.0, min_n=10),
    # CSAT points (% satisfied): a tenth of customers turning unhappy.
    "csat": Rule(min_effect=10.0, critical_effect=20.0, min_n=20),
    # CES on its 1-7 scale: half a step is what customers notice.
    "ces": Rule(min_effect=0.5, critical_effect=1.0, min_n=20),
    # Share of answers, all surveys together, that need a follow-up (NPS <= 6, CSAT <= 2
    # of 5, CES <= 3): the unhappy customers. Pooling the surveys gives a small channel
    # enough answers to see a mood swing within hours; absolute, 15 more in 100.
    "unhappy_share": Rule(min_effect=0.15, critical_effect=0.3, min_n=10),
    # Failure share, absolute: 5 more failures in 100 interactions.
    "failure_rate": Rule(min_effect=0.05, critical_effect=0.15, min_n=20),
    # Response rate, relative: half the usual answers per interaction. Answers come in
    # clusters (survey batches, campaigns, one customer answering twice), so they vary
    # about twice as much as independent events: dispersion 2.
    "response_rate": Rule(min_effect=0.5, critical_effect=0.8, min_n=30, dispersion=2.0),
    # Share of due follow-ups met in time, absolute.
    "followup_sla": Rule(min_effect=0.15, critical_effect=0.3, min_n=10),
    # Health index points (0-100).
    "health": Rule(min_effect=8.0, critical_effect=15.0, min_n=30),
    # Mean comment sentiment on its -1..1 scale: a fifth of the range is a change of mood
    # customers' words show plainly (e.g. from mildly positive to neutral).
    "sentiment": Rule(min_effect=0.2, critical_effect=0.4, min_n=30),
    # Share of comments labelled negative, absolute: 15 more in 100.
    "negative_share": Rule(min_effect=0.15, critical_effect=0.3, min_n=30),
    # A theme surging, absolute share of the comments naming it: 15 more in 100 (e.g.
    # delivery complaints from 10% to 25% of comments).
    **dict.fromkeys(THEME_METRICS, Rule(min_effect=0.15, critical_effect=0.3, min_n=30)),
    # Collapse of a channel's volume, answers or response rate, relative; min_n is the
    # count the baseline leads us to expect in the window (fewer expected: a zero is no news).
    SILENT: Rule(min_effect=0.8, critical_effect=0.95, min_n=10, min_baseline_n=30,
                 dispersion=2.0),
}


@dataclass(frozen=True, slots=True)
class FollowupBounds:
    """Per-tenant bounds on the follow-up backlog (cases past their deadline, not met)."""

    overdue_max: int | None = None
    """More overdue cases than this in the baseline span pages. Off by default: a fair
    bound depends on a tenant's volume and team, so each tenant sets its own."""
    sla_min: float = 0.5
    """Met share of due follow-ups below this pages (with at least ``min_due`` due): half
    the unhappy customers left without a call within the deadline is a broken loop."""
    min_due: int = 20


DEFAULT_ONSETS_MS: Final = tuple(minutes * 60_000 for minutes in (15, 30, 120, 180))
"""Candidate onsets of the sequential detector. With the default windows (1h, 6h) they make
a ladder that roughly doubles from 15 min to 6 h: whenever a change began, one rung holds at
least about half its span and little from before it. Few rungs, because each one costs a
factor in the Bonferroni adjustment and a span in every pass's read."""


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    windows_ms: tuple[int, ...] = (3_600_000, 6 * 3_600_000)
    baseline_ms: int = 7 * 86_400_000
    fdr: float = 0.001
    """False discovery rate per pass. Low, because a pass runs every minute: what pages
    must be real, and a real incident's p-values are far below it within the hour."""
    resolve_p: float = 0.05
    resolve_fraction: float = 0.5
    """Hysteresis: an alert resolves only when the freshest window no longer shows a
    worsening of ``resolve_fraction * min_effect`` at nominal ``resolve_p``."""
    cooldown_ms: int = 30 * 60_000
    """After resolving, the same alert does not fire again for this long."""
    onsets_ms: tuple[int, ...] = ()
    """Candidate onsets of the sequential detector (how long ago a change may have begun),
    empty: off. See ``best_onset``."""
    window_alarms: bool = True
    """Whether the windows' findings may fire an alert. False leaves alarms to the
    sequential detector (the bench compares them); the windows still judge recovery."""
    rules: Mapping[str, Rule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    bounds: Mapping[str, FollowupBounds] = field(
        default_factory=lambda: {ALL: FollowupBounds()})
    """Per tenant, ``*`` for every other tenant."""

    @property
    def longest_ms(self) -> int:
        """The longest recent span any test reads: a window or the earliest onset."""
        return max((*self.windows_ms, *self.onsets_ms))

    @property
    def spans_ms(self) -> tuple[tuple[int, bool], ...]:
        """Every recent span a pass compares, (length, is an onset), windows first."""
        return (*((w, False) for w in self.windows_ms), *((o, True) for o in self.onsets_ms))

    def bounds_of(self, tenant: str) -> FollowupBounds:
        return self.bounds.get(tenant) or self.bounds.get(ALL) or FollowupBounds()


@dataclass(frozen=True, slots=True)
class Span:
    """Summed statistics of one scope over a stretch of minutes."""

    stats: Stats
    followups: Followups
    """The follow-ups that came due in the span: feedback one deadline before it, and
    how many of those were met in time. (Feedback inside a recent window is not due
    yet, so its own follow-ups could never show a drop.)"""
    minutes: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """A recent window of one scope and the baseline right before it."""

    scope: Scope
    window_ms: int
    recent: Span
    baseline: Span
    onset: bool = False
    """A candidate onset of the sequential detector rather than a recent window."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One hypothesis of a pass: did ``measure`` get worse in this window?"""

    scope: Scope
    metric: str
    window_ms: int
    measure: str
    """What was tested: the metric itself, or for ``silent_channel`` the collapsed part."""
    value: float
    baseline: float
    n: int
    baseline_n: int
    effect: float
    """The worsening in the rule's units; positive is worse."""
    p_value: float | None
    """None for bounds, which are not tests; the sequential detector's is adjusted for the
    candidate onsets it chose among."""
    q_value: float | None = None
    onset: bool = False
    """Found by the sequential detector: ``window_ms`` is the onset that fits best."""

    @property
    def key(self) -> AlertKey:
        return (*self.scope, self.metric)


# --- the tests of each metric -----------------------------------------------------------------

Measured = tuple[str, float, float, int, int, float, float]
"""(measure, value, baseline, n, baseline n, effect, p-value) before adjustment."""


def _z_drop(diff: float, unit_variance: float, n1: int, n2: int) -> float:
    """P-value of a fall of ``diff`` between two means with the pooled variance per unit."""
    se = math.sqrt(max(0.0, unit_variance) * (1 / n1 + 1 / n2))
    if se == 0.0:
        return 0.0 if diff > 0 else 1.0
    return normal_sf(diff / se)


def _nps_variance(promoters: int, detractors: int, n: int) -> float:
    """Per-answer variance of NPS in points squared (DESIGN.md), pooled."""
    p, d = promoters / n, detractors / n
    return 1e4 * (p + d - (p - d) ** 2)


def _sample_variance(total: int, total_sq: int, n: int) -> float:
    """Sample variance of values from their count, sum and sum of squares (CES, sentiment)."""
    mean = total / n
    return (total_sq - n * mean * mean) / max(1, n - 1)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


EXACT_BELOW: Final = 100
"""Below this many recent answers NPS is tested exactly, not with its normal variance."""


def _nps_exact(r: Stats, b: Stats) -> float:
    """NPS falls when detractors rise or promoters fall: the smaller of the two Fisher
    tests, doubled (Bonferroni), so a handful of answers is judged exactly."""
    more_detractors = fisher(r.nps_detractors, r.nps_n, b.nps_detractors, b.nps_n, lower=False)
    fewer_promoters = fisher(r.nps_promoters, r.nps_n, b.nps_promoters, b.nps_n, lower=True)
    return min(1.0, 2 * min(more_detractors, fewer_promoters))


def _nps(r: Stats, b: Stats) -> tuple[float, float, int, int, float]:
    value = 100 * (r.nps_promoters - r.nps_detractors) / r.nps_n
    base = 100 * (b.nps_promoters - b.nps_detractors) / b.nps_n
    var = _nps_variance(r.nps_promoters + b.nps_promoters, r.nps_detractors + b.nps_detractors,
                        r.nps_n + b.nps_n)
    return value, base, r.nps_n, b.nps_n, var


def _measure(metric: str, recent: Span, baseline: Span, rule: Rule,
             screen: float) -> list[Measured]:
    """The tests of one metric; a p-value is computed only for an effect of at least ``screen``."""
    r, b = recent.stats, baseline.stats
    out: list[Measured] = []

    def add(measure: str, value: float, base: float, n: int, base_n: int, effect: float,
            p_value: Callable[[], float]) -> None:
        if n >= rule.min_n and base_n >= rule.min_baseline_n:
            p = p_value() if effect >= screen else 1.0
            out.append((measure, value, base, n, base_n, effect, p))

    if metric == "nps" and r.nps_n and b.nps_n:
        value, base, n, base_n, var = _nps(r, b)
        add(metric, value, base, n, base_n, base - value,
            lambda: _z_drop(base - value, var, n, base_n) if n >= EXACT_BELOW
            else _nps_exact(r, b))
    elif metric == "csat" and r.csat_n and b.csat_n:
        value, base = 100 * _share(r.csat_satisfied, r.csat_n), 100 * _share(
            b.csat_satisfied, b.csat_n)
        add(metric, value, base, r.csat_n, b.csat_n, base - value,
            lambda: fisher(r.csat_satisfied, r.csat_n, b.csat_satisfied, b.csat_n, lower=True))
    elif metric == "ces" and r.ces_n and b.ces_n:
        value, base = r.ces_sum / r.ces_n, b.ces_sum / b.ces_n
        var = _sample_variance(r.ces_sum + b.ces_sum, r.ces_sum_sq + b.ces_sum_sq,
                               r.ces_n + b.ces_n)
        add(metric, value, base, r.ces_n, b.ces_n, base - value,
            lambda: _z_drop(base - value, var, r.ces_n, b.ces_n))
    elif metric == "unhappy_share" and r.feedback and b.feedback:
        _rise(add, metric, r.followup_needed, r.feedback, b.followup_needed, b.feedback)
    elif metric == "failure_rate" and r.interactions and b.interactions:
        _rise(add, metric, r.failures, r.interactions, b.failures, b.interactions)
    elif metric == "response_rate" and r.interactions and b.interactions and b.feedback:
        value, base = r.feedback / r.interactions, b.feedback / b.interactions
        add(metric, value, base, r.interactions, b.interactions, 1 - value / base,
            lambda: _rate_drop(r.feedback, r.interactions, b.feedback, b.interactions, rule))
    elif metric == "followup_sla" and recent.followups.due and baseline.followups.due:
        rf, bf = recent.followups, baseline.followups
        value, base = rf.met / rf.due, bf.met / bf.due
        add(metric, value, base, rf.due, bf.due, base - value,
            lambda: fisher(rf.met, rf.due, bf.met, bf.due, lower=True))
    elif metric == "sentiment" and r.comments and b.comments:
        value, base = r.sentiment_sum / MILLI / r.comments, b.sentiment_sum / MILLI / b.comments
        var = _sample_variance(r.sentiment_sum + b.sentiment_sum,
                            r.sentiment_sum_sq + b.sentiment_sum_sq,
                            r.comments + b.comments) / (MILLI * MILLI)
        add(metric, value, base, r.comments, b.comments, base - value,
            lambda: _z_drop(base - value, var, r.comments, b.comments))
    elif metric == "negative_share" and r.comments and b.comments:
        _rise(add, metric, r.comments_negative, r.comments, b.comments_negative, b.comments)
    elif metric.startswith(THEME_PREFIX) and r.comments and b.comments:
        _rise(add, metric, getattr(r, metric), r.comments, getattr(b, metric), b.comments)
    elif metric == SILENT:
        out += _silent(recent, baseline, rule, screen)
    return out


def _rise(add: Callable[..., None], metric: str, hits: int, n: int, base_hits: int,
          base_n: int) -> None:
    """A share that is worse higher (failures, negative comments, a theme): Fisher exact."""
    value, base = hits / n, base_hits / base_n
    add(metric, value, base, n, base_n, value - base,
        lambda: fisher(hits, n, base_hits, base_n, lower=False))


HEALTH_PART_MIN_N: Final = 20
"""A health component counts only with this many observations in the recent window: the
normal approximation behind the composite's variance needs it."""


def _health(recent: Span, baseline: Span, rule: Rule, screen: float,
            weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> list[Measured]:
    """Health over the components both spans have, its variance by the delta method."""
    r, b = recent.stats, baseline.stats
    rf, bf = recent.followups, baseline.followups
    parts: list[tuple[str, float, float, float, int, int]] = []  # name, r, b, unit var, nr, nb
    if r.nps_n and b.nps_n:
        value, base, n, base_n, var = _nps(r, b)
        parts.append(("nps", (value + 100) / 2, (base + 100) / 2, var / 4, n, base_n))

    def share(name: str, hits_r: int, n_r: int, hits_b: int, n_b: int, invert: bool) -> None:
        pooled = (hits_r + hits_b) / (n_r + n_b) if n_r and n_b else 0.0
        # The normal approximation of a share needs ~10 expected on each side; a rare
        # failure at small n would otherwise look hugely significant (its exact test
        # stays with failure_rate).
        if n_r * min(pooled, 1 - pooled) >= 10:
            sign, offset = (-1, 100.0) if invert else (1, 0.0)
            parts.append((name, offset + sign * 100 * hits_r / n_r,
                          offset + sign * 100 * hits_b / n_b, 1e4 * pooled * (1 - pooled),
                          n_r, n_b))

    share("csat", r.csat_satisfied, r.csat_n, b.csat_satisfied, b.csat_n, False)
    if r.ces_n and b.ces_n:
        var = _sample_variance(r.ces_sum + b.ces_sum, r.ces_sum_sq + b.ces_sum_sq,
                               r.ces_n + b.ces_n)
        parts.append(("ces", (r.ces_sum / r.ces_n - 1) / 6 * 100,
                      (b.ces_sum / b.ces_n - 1) / 6 * 100, var * (100 / 6) ** 2,
                      r.ces_n, b.ces_n))
    share("followup", rf.met, rf.due, bf.met, bf.due, False)
    share("reliability", r.failures, r.interactions, b.failures, b.interactions, True)
    used = [p for p in parts if weights.get(p[0], 0.0) > 0 and p[4] >= HEALTH_PART_MIN_N]
    total_weight = sum(weights[p[0]] for p in used)
    if not used or not total_weight:
        return []
    value = sum(weights[p[0]] * p[1] for p in used) / total_weight
    base = sum(weights[p[0]] * p[2] for p in used) / total_weight
    variance = sum((weights[p[0]] / total_weight) ** 2 * p[3] * (1 / p[4] + 1 / p[5])
                   for p in used)
    n = r.interactions + r.feedback
    base_n = b.interactions + b.feedback
    if n < rule.min_n or base_n < rule.min_baseline_n:
        return []
    effect = base - value
    p_value = 1.0
    if effect >= screen:
        se = math.sqrt(variance)
        p_value = normal_sf(effect / se) if se else float(effect <= 0)
    return [("health", value, base, n, base_n, effect, p_value)]


def _rate_drop(recent: int, recent_exposure: float, baseline: int, baseline_exposure: float,
               rule: Rule) -> float:
    """``rate_drop`` on counts shrunk by the rule's dispersion (an effective sample)."""
    d = rule.dispersion
    return rate_drop(round(recent / d), recent_exposure, round(baseline / d), baseline_exposure)


def _silent(recent: Span, baseline: Span, rule: Rule, screen: float) -> list[Measured]:
    """Interaction volume, answer volume and response rate against their own baseline."""
    r, b = recent.stats, baseline.stats
    out: list[Measured] = []
    per_minute = recent.minutes / baseline.minutes
    for measure, now, before in (("interactions", r.interactions, b.interactions),
                                 ("feedback", r.feedback, b.feedback)):
        expected = before * per_minute
        if expected >= rule.min_n and before >= rule.min_baseline_n:
            effect = 1 - now / expected
            p = _rate_drop(now, recent.minutes, before, baseline.minutes, rule) \
                if effect >= screen else 1.0
            out.append((measure, now / recent.minutes, before / baseline.minutes, now, before,
                        effect, p))
    if r.interactions and b.interactions and b.feedback >= rule.min_baseline_n:
        expected = r.interactions * b.feedback / b.interactions
        if expected >= rule.min_n:
            effect = 1 - r.feedback / expected
            p = _rate_drop(r.feedback, r.interactions, b.feedback, b.interactions, rule) \
                if effect >= screen else 1.0
            out.append(("response_rate", r.feedback / r.interactions,
                        b.feedback / b.interactions, r.interactions, b.interactions, effect, p))
    return out


def metrics_of(scope: Scope) -> tuple[str, ...]:
    """Quality drops for every scope; collection health per channel (tenant, channel, *)."""
    _, channel, touchpoint = scope
    if channel != ALL and touchpoint == ALL:
        return (*DROP_METRICS, SILENT)
    return DROP_METRICS


@cache
def _without_comments(metrics: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(metric for metric in metrics if metric not in COMMENT_METRICS)


def _measured(comparison: Comparison, config: DetectorConfig) -> list[tuple[str, Measured]]:
    """Every test of one comparison, as (metric, measured)."""
    smallest = min(rule.min_n for rule in config.rules.values())
    recent = comparison.recent
    metrics = metrics_of(comparison.scope)
    if recent.stats.comments < min(config.rules[m].min_n for m in COMMENT_METRICS):
        metrics = _without_comments(metrics)  # most leaf scopes: no comment test
    if SILENT not in metrics and (recent.stats.interactions + recent.stats.feedback
                                  + recent.followups.due) < smallest:
        return []  # too little data for any test: a cheap skip for quiet touchpoints
    out: list[tuple[str, Measured]] = []
    for metric in metrics:
        rule = config.rules[metric]
        screen = rule.min_effect * config.resolve_fraction
        if metric == "health":
            measured = _health(recent, comparison.baseline, rule, screen, config.weights)
        else:
            measured = _measure(metric, recent, comparison.baseline, rule, screen)
        out += [(metric, m) for m in measured]
    return out


def best_onset(tried: list[tuple[int, Measured]], rule: Rule, candidates: int
               ) -> tuple[int, Measured]:
    """The sequential detector's verdict on one metric: the onset that fits best.

    A window-limited generalised likelihood ratio: for each candidate onset the change
    since then is tested exactly (the metric's own test, against the baseline before the
    longest span of the pass, so no candidate's norm holds the change). The smallest
    p-value among the onsets whose worsening is big enough to page wins, multiplied by the
    number of candidates (Bonferroni): choosing the onset after the fact costs no false
    alarms. The result is one hypothesis of the pass like any window's.
    """
    big = [t for t in tried if t[1][5] >= rule.min_effect]
    window, measured = min(big or tried, key=lambda t: (t[1][6], t[0]))
    return window, (*measured[:6], min(1.0, measured[6] * candidates))


def findings(comparisons: Iterable[Comparison], config: DetectorConfig) -> list[Finding]:
    """Every hypothesis of one pass, q-values adjusted together (Benjamini-Hochberg).

    The windows give one hypothesis per window; the sequential detector one per
    scope, metric and measure over all its candidate onsets (``best_onset``).
    """
    windows: list[tuple[Scope, str, int, Measured]] = []
    onsets: dict[tuple[Scope, str, str], list[tuple[int, Measured]]] = {}
    for comparison in comparisons:
        for metric, m in _measured(comparison, config):
            if comparison.onset:
                onsets.setdefault((comparison.scope, metric, m[0]), []).append(
                    (comparison.window_ms, m))
            else:
                windows.append((comparison.scope, metric, comparison.window_ms, m))
    count = len(config.onsets_ms)
    scanned = [(scope, metric, *best_onset(tried, config.rules[metric], count))
               for (scope, metric, _), tried in onsets.items()]
    tested = [(*w, False) for w in windows] if config.window_alarms else []
    tested += [(*s, True) for s in scanned]
    q_values = benjamini_hochberg([m[6] for _, _, _, m, _ in tested])
    out = [Finding(scope, metric, window, *m, q_value=q, onset=onset)
           for (scope, metric, window, m, onset), q in zip(tested, q_values, strict=True)]
    if not config.window_alarms:  # they judge recovery only
        out += [Finding(scope, metric, window, *m) for scope, metric, window, m in windows]
    return out


# --- from findings to a verdict per alert -----------------------------------------------------

@dataclass(frozen=True, slots=True)
class Verdict:
    """What one pass says of one alert key."""

    alarm: Finding | None
    """The strongest finding that alarms, in whatever window; None if none does."""
    clear: bool
    """The freshest window with enough data shows no sign of the worsening."""
    current: Finding | None = None
    """The freshest window's finding: what a resolved alert reports."""


def _alarms(finding: Finding, config: DetectorConfig) -> bool:
    rule = config.rules[finding.metric]
    return (finding.q_value is not None and finding.q_value <= config.fdr
            and finding.effect >= rule.min_effect)


def _still_worse(finding: Finding, config: DetectorConfig) -> bool:
    rule = config.rules[finding.metric]
    return (finding.effect >= rule.min_effect * config.resolve_fraction
            and (finding.p_value or 0.0) <= config.resolve_p)


def verdicts(found: Iterable[Finding], config: DetectorConfig) -> dict[AlertKey, Verdict]:
    """Per alert key: the alarming finding, if any, and whether the freshest window is clear."""
    by_key: dict[AlertKey, list[Finding]] = {}
    for finding in found:
        by_key.setdefault(finding.key, []).append(finding)
    out = {}
    for key, items in by_key.items():
        judged = [f for f in items if not f.onset] or items  # windows judge, when they can
        freshest = min(f.window_ms for f in judged)
        now = [f for f in judged if f.window_ms == freshest]
        clear = not any(_still_worse(f, config) for f in now)
        alarming = [f for f in items if _alarms(f, config)]
        alarm = min(alarming, key=lambda f: (f.q_value, f.window_ms)) if alarming else None
        current = max(now, key=lambda f: f.effect)
        out[key] = Verdict(alarm, clear, current)
    return out


def backlog_verdicts(backlogs: Mapping[str, Span], config: DetectorConfig,
                     window_ms: int) -> dict[AlertKey, Verdict]:
    """Per tenant: overdue follow-ups and SLA compliance against the tenant's bounds.

    Bounds, not tests: the backlog is a count a team has to work off, whatever
    its history. Hysteresis: resolve below 80% of the bound (SLA: 5 points above).
    """
    out: dict[AlertKey, Verdict] = {}
    for tenant, span in backlogs.items():
        bounds = config.bounds_of(tenant)
        due, met = span.followups.due, span.followups.met
        overdue = due - met
        scope = (tenant, ALL, ALL)
        bound = bounds.overdue_max
        if bound is not None:
            finding = Finding(scope, OVERDUE, window_ms, OVERDUE, overdue, bound, due, due,
                              overdue - bound, None)
            out[(*scope, OVERDUE)] = Verdict(finding if overdue > bound else None,
                                             overdue <= 0.8 * bound, finding)
        if due >= bounds.min_due:
            sla = met / due
            finding = Finding(scope, SLA_FLOOR, window_ms, SLA_FLOOR, sla, bounds.sla_min, due,
                              due, bounds.sla_min - sla, None)
            out[(*scope, SLA_FLOOR)] = Verdict(finding if sla < bounds.sla_min else None,
                                               sla >= bounds.sla_min + 0.05, finding)
    return out


def severity(finding: Finding, config: DetectorConfig) -> str:
    rule = config.rules.get(finding.metric)
    if rule is None:  # bounds
        return "warning"
    return "critical" if finding.effect >= rule.critical_effect else "warning"


def shown(metric: str, value: float) -> str:
    """A value as the reasons show it: ratios and sentiment with three decimals, scores with
    one."""
    return f"{value:.3f}" if metric in RATIOS or metric == "sentiment" else f"{value:.1f}"


def recovery(finding: Finding) -> str:
    """Why an alert resolved: where the freshest window stands now."""
    return (f"recovered: {finding.measure} {shown(finding.metric, finding.value)} over "
            f"{format_window(finding.window_ms)} against "
            f"{shown(finding.metric, finding.baseline)} before (n={finding.n})")


def describe(finding: Finding) -> str:
    """One line a person reads in the page: what changed, how much, on how much data."""
    window = format_window(finding.window_ms)
    if finding.metric == OVERDUE:
        return (f"{finding.value:.0f} follow-ups overdue (bound {finding.baseline:.0f}) "
                f"among {finding.n} due in {window}")
    if finding.metric == SLA_FLOOR:
        return (f"follow-up SLA {finding.value:.0%} below the floor {finding.baseline:.0%} "
                f"({finding.n} due in {window})")
    stats = (f"n={finding.n}, baseline n={finding.baseline_n}, p={finding.p_value:.2g}, "
             f"q={finding.q_value:.2g}")
    if finding.metric == SILENT:
        return (f"{finding.measure} collapsed {finding.effect:.0%} against its baseline over "
                f"{window} ({finding.value:.3g} vs {finding.baseline:.3g}; {stats})")
    verb = "rose" if finding.metric in RISING else "fell"
    return (f"{finding.metric} {verb} from {shown(finding.metric, finding.baseline)} to "
            f"{shown(finding.metric, finding.value)} over {window} ({stats})")


def judge(comparisons: Iterable[Comparison], backlogs: Mapping[str, Span],
          config: DetectorConfig) -> dict[AlertKey, Verdict]:
    """One pass: drops and collapses (tested together) and follow-up backlogs (bounded)."""
    return (verdicts(findings(comparisons, config), config)
            | backlog_verdicts(backlogs, config, config.baseline_ms))


# --- configuration as users write it ---------------------------------------------------------

def _pairs(text: str, what: str) -> Iterable[tuple[str, str]]:
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, raw = part.partition("=")
        if not sep:
            raise ValueError(f"{what}: {part!r} is not name=value")
        yield name.strip(), raw.strip()


def _number(raw: str, what: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a number >= 0, got {raw!r}")
    return value


def parse_rules(text: str) -> dict[str, Rule]:
    """``nps.min_effect=10,failure_rate.min_n=50`` (CX_ALERT_RULES) over ``DEFAULT_RULES``."""
    rules = dict(DEFAULT_RULES)
    names = [f.name for f in Rule.__dataclass_fields__.values()]
    for dotted, raw in _pairs(text, "CX_ALERT_RULES"):
        metric, _, name = dotted.partition(".")
        if metric not in rules:
            raise ValueError(f"CX_ALERT_RULES: unknown metric {metric!r} "
                             f"(known: {', '.join(rules)})")
        if name not in names:
            raise ValueError(f"CX_ALERT_RULES: unknown setting {name!r} of {metric} "
                             f"(known: {', '.join(names)})")
        value = _number(raw, f"CX_ALERT_RULES {dotted}")
        rules[metric] = replace(rules[metric], **{name: int(value) if "_n" in name else value})
    return rules


def parse_bounds(text: str) -> dict[str, FollowupBounds]:
    """``overdue=50,sla=0.7;acme-shop:overdue=10`` (CX_FOLLOWUP_BOUNDS): defaults, then tenants."""
    bounds = {ALL: FollowupBounds()}
    for group in filter(None, (g.strip() for g in text.split(";"))):
        tenant, sep, body = group.partition(":")
        if not sep:
            tenant, body = ALL, group
        current = bounds.get(tenant.strip(), bounds[ALL])
        for name, raw in _pairs(body, "CX_FOLLOWUP_BOUNDS"):
            value = _number(raw, f"CX_FOLLOWUP_BOUNDS {name}")
            if name == "overdue":
                current = replace(current, overdue_max=int(value))
            elif name == "sla":
                if value > 1:
                    raise ValueError(f"CX_FOLLOWUP_BOUNDS sla is a share 0-1, got {raw!r}")
                current = replace(current, sla_min=value)
            elif name == "min_due":
                current = replace(current, min_due=int(value))
            else:
                raise ValueError(f"CX_FOLLOWUP_BOUNDS: unknown bound {name!r} "
                                 "(known: overdue, sla, min_due)")
        bounds[tenant.strip()] = current
    return bounds
