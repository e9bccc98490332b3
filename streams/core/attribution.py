"""Attribution: where a change of a rate comes from, as exact arithmetic. No I/O.

Every attributable metric is a ratio of two sums of the per-minute statistics
(``R = A / D``: failures per interaction, promoters minus detractors per NPS
answer ...), so a parent's value is the weighted sum of its children's. Child
``i`` with weight ``w = d / D`` and rate ``r = a / d`` contributes

    c_i = w1 (r1 - R0) - w0 (r0 - R0)                       and   sum c_i = R1 - R0

exactly (the weights of each window sum to one). ``c_i`` is linear in the
child's sums, so a channel's contribution is the sum of its touchpoints'. It
splits into a rate effect ``(w0 + w1) / 2 (r1 - r0)`` and a mix effect
``(w1 - w0) ((r0 + r1) / 2 - R0)``; a child missing from one window has only a
mix effect. All of it is computed in fractions, so the shares add up to one.

What the minute statistics do not hold cannot be split: health (a weighted mean
of components that come and go), the follow-up SLA (its due counts depend on the
window end), locale and language (not dimensions of the statistics; the comments
carry their language, see the evidence). Themes are not a partition (a comment
may name several), so they are reported as surges against the baseline instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

from streams.core.drops import RISING
from streams.core.stats import ALL, COMMENT_THEMES, MILLI, THEME_PREFIX, Scope, Stats

Sums = Callable[[Stats], tuple[int, int]]
"""A metric's numerator and denominator sums."""

RATIO_METRICS: Final[Mapping[str, tuple[Sums, Fraction]]] = {
    "failure_rate": (lambda s: (s.failures, s.interactions), Fraction(1)),
    "response_rate": (lambda s: (s.feedback, s.interactions), Fraction(1)),
    "unhappy_share": (lambda s: (s.followup_needed, s.feedback), Fraction(1)),
    "nps": (lambda s: (s.nps_promoters - s.nps_detractors, s.nps_n), Fraction(100)),
    "csat": (lambda s: (s.csat_satisfied, s.csat_n), Fraction(100)),
    "ces": (lambda s: (s.ces_sum, s.ces_n), Fraction(1)),
    "sentiment": (lambda s: (s.sentiment_sum, s.comments), Fraction(1, MILLI)),
    "negative_share": (lambda s: (s.comments_negative, s.comments), Fraction(1)),
    **{THEME_PREFIX + theme: ((lambda s, name=THEME_PREFIX + theme: (getattr(s, name),
                                                                      s.comments)),
                              Fraction(1))
       for theme in COMMENT_THEMES},
}
"""Each attributable metric: its sums and the scale of its unit (NPS and CSAT in points)."""

EXPLAINS: Final = Fraction(3, 4)
"""The share of the change a narrower scope must explain to become the incident's cause."""
SURGE_RATIO: Final = Fraction(3, 2)
SURGE_MIN_COMMENTS: Final = 3

Windows = Mapping[tuple[str, str], tuple[Stats, Stats]]
"""(channel, touchpoint) -> (recent, baseline) statistics of that leaf scope."""


@dataclass(frozen=True, slots=True)
class Part:
    """One child's exact part of the parent's change (in the metric's unit)."""

    channel: str
    touchpoint: str
    contribution: Fraction
    rate_effect: Fraction
    mix_effect: Fraction
    share: Fraction
    """Of the parent's change (negative when it moved the other way)."""
    value: Fraction | None
    baseline: Fraction | None

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "touchpoint": self.touchpoint,
                "contribution": float(self.contribution), "rate_effect": float(self.rate_effect),
                "mix_effect": float(self.mix_effect), "share": float(self.share),
                "value": _float(self.value), "baseline": _float(self.baseline)}


@dataclass(frozen=True, slots=True)
class Surge:
    theme: str
    comments: int
    share: Fraction
    baseline_share: Fraction
    ratio: Fraction | None
    """Recent share over baseline share; None when the baseline never named the theme."""

    def as_dict(self) -> dict[str, Any]:
        return {"theme": self.theme, "comments": self.comments, "share": float(self.share),
                "baseline_share": float(self.baseline_share), "ratio": _float(self.ratio)}


@dataclass(frozen=True, slots=True)
class Attribution:
    metric: str
    scope: Scope
    """The scope whose change is split (the incident's)."""
    value: Fraction
    baseline: Fraction
    channels: tuple[Part, ...]
    """By channel (touchpoint ``*``), largest share first; empty below a tenant scope."""
    touchpoints: tuple[Part, ...]
    cause: Scope
    """The most specific scope explaining at least ``EXPLAINS`` of the change."""
    cause_share: Fraction
    surges: tuple[Surge, ...]

    @property
    def change(self) -> Fraction:
        return self.value - self.baseline

    @property
    def worse(self) -> bool:
        """The change goes the way an alert fires on (up for failures, down for NPS): a
        split taken while a metric recovers explains the recovery, not the incident."""
        return self.change > 0 if self.metric in RISING else self.change < 0

    def sentence(self, explains: Fraction = EXPLAINS) -> str:
        """E.g. "checkout explains 92% of the rise in app failure_rate"."""
        where = " ".join(part for part in self.scope[1:] if part != ALL) or self.scope[0]
        way = "rise" if self.change > 0 else "drop"
        if self.cause == self.scope:
            if ALL not in self.scope[1:]:
                return f"{way} in {where} {self.metric}"
            return (f"{way} in {where} {self.metric}; no narrower scope explains "
                    f"{round(100 * explains)}% of it")
        cause = self.cause[2] if self.cause[2] != ALL else self.cause[1]
        percent = round(100 * self.cause_share)
        if self.cause_share > 1:
            return (f"{cause} explains all of the {way} in {where} {self.metric} "
                    f"({percent}%: the rest moved the other way)")
        return f"{cause} explains {percent}% of the {way} in {where} {self.metric}"

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "channel": self.scope[1], "touchpoint": self.scope[2],
                "value": float(self.value), "baseline": float(self.baseline),
                "change": float(self.change),
                "cause": {"channel": self.cause[1], "touchpoint": self.cause[2],
                          "share": float(self.cause_share)},
                "summary": self.sentence(),
                "channels": [p.as_dict() for p in self.channels],
                "touchpoints": [p.as_dict() for p in self.touchpoints],
                "surges": [s.as_dict() for s in self.surges]}


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def _rate(sums: tuple[int, int], scale: Fraction) -> Fraction | None:
    return scale * Fraction(sums[0], sums[1]) if sums[1] else None


def _part(channel: str, touchpoint: str, recent: tuple[int, int], base: tuple[int, int],
          totals: tuple[int, int], parent_base: Fraction, change: Fraction,
          scale: Fraction) -> Part:
    d1, d0 = totals
    w1, w0 = Fraction(recent[1], d1), Fraction(base[1], d0)
    r1, r0 = _rate(recent, scale), _rate(base, scale)
    a1 = r1 if r1 is not None else r0
    a0 = r0 if r0 is not None else r1
    assert a0 is not None and a1 is not None  # a child without data in both is left out
    contribution = w1 * (a1 - parent_base) - w0 * (a0 - parent_base)
    rate = (w0 + w1) / 2 * (a1 - a0)
    return Part(channel, touchpoint, contribution, rate, contribution - rate,
                contribution / change, r1, r0)


def _ranked(parts: Iterable[Part]) -> tuple[Part, ...]:
    return tuple(sorted(parts, key=lambda p: (-p.share, p.channel, p.touchpoint)))


def surges(recent: Stats, baseline: Stats, ratio: Fraction = SURGE_RATIO,
           min_comments: int = SURGE_MIN_COMMENTS) -> tuple[Surge, ...]:
    """Themes named by at least ``min_comments`` recent comments at ``ratio`` times their
    baseline share or more (or new), largest ratio first, new themes first of all."""
    if not recent.comments:
        return ()
    out = []
    for theme in COMMENT_THEMES:
        hits, base_hits = getattr(recent, THEME_PREFIX + theme), getattr(
            baseline, THEME_PREFIX + theme)
        share = Fraction(hits, recent.comments)
        base_share = Fraction(base_hits, baseline.comments) if baseline.comments else Fraction(0)
        surge_ratio = share / base_share if base_share else None
        if hits >= min_comments and (surge_ratio is None or surge_ratio >= ratio):
            out.append(Surge(theme, hits, share, base_share, surge_ratio))
    return tuple(sorted(out, key=lambda s: (s.ratio is not None, -(s.ratio or 0), s.theme)))


def attribute(metric: str, scope: Scope, leaves: Windows,
              explains: Fraction = EXPLAINS) -> Attribution | None:
    """Split the change of ``metric`` at ``scope`` between its channels and touchpoints.

    ``leaves`` holds the statistics of every (channel, touchpoint) under ``scope``
    (others are ignored). None when the metric is not a ratio of the statistics or
    it has no data or no change to split.
    """
    if metric not in RATIO_METRICS:
        return None
    sums, scale = RATIO_METRICS[metric]
    _, channel, touchpoint = scope
    inside = {leaf: pair for leaf, pair in leaves.items()
              if channel in (ALL, leaf[0]) and touchpoint in (ALL, leaf[1])}
    recent, base = Stats(), Stats()
    for r, b in inside.values():
        recent += r
        base += b
    totals = sums(recent)[1], sums(base)[1]
    value, baseline = _rate(sums(recent), scale), _rate(sums(base), scale)
    if value is None or baseline is None or value == baseline:
        return None
    change = value - baseline

    def part(name: tuple[str, str], r: Stats, b: Stats) -> Part | None:
        if not sums(r)[1] and not sums(b)[1]:
            return None
        return _part(*name, sums(r), sums(b), totals, baseline, change, scale)

    by_channel: dict[str, tuple[Stats, Stats]] = {}
    for (leaf_channel, _), (r, b) in inside.items():
        cr, cb = by_channel.setdefault(leaf_channel, (Stats(), Stats()))
        cr += r
        cb += b
    touchpoints = _ranked(p for leaf, (r, b) in inside.items() if (p := part(leaf, r, b)))
    channels = _ranked(p for name, (r, b) in by_channel.items()
                       if (p := part((name, ALL), r, b))) if channel == ALL else ()
    cause, cause_share = scope, Fraction(1)
    if channels and channels[0].share >= explains:
        cause, cause_share = (scope[0], channels[0].channel, ALL), channels[0].share
    narrower = [p for p in touchpoints if cause[1] in (ALL, p.channel)]
    if touchpoint == ALL and narrower and narrower[0].share >= explains:
        cause, cause_share = (scope[0], narrower[0].channel, narrower[0].touchpoint), \
            narrower[0].share
    return Attribution(metric, scope, value, baseline, channels, touchpoints, cause,
                       cause_share, surges(recent, base))
