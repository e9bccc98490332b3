"""Sufficient statistics per scope and minute: one mergeable value, no I/O.

Every score is a function of sums of these counters, so a window is the sum
of its minutes and a rollup (tenant x channel, tenant) is the sum of its
scopes: both exact. Scores are never averaged.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

MINUTE_MS: Final = 60_000
ALL: Final = "*"
"""The rolled-up part of a scope, e.g. ("acme", "web", "*")."""

Scope = tuple[str, str, str]
"""(tenant, channel, touchpoint)."""


@dataclass(slots=True)
class Stats:
    """Counts and sums for one scope over one or more minutes."""

    interactions: int = 0
    failures: int = 0
    nps_n: int = 0
    nps_promoters: int = 0
    nps_detractors: int = 0
    csat5_n: int = 0
    csat5_satisfied: int = 0
    csat10_n: int = 0
    csat10_satisfied: int = 0
    ces_n: int = 0
    ces_sum: int = 0
    ces_sum_sq: int = 0
    followup_needed: int = 0
    """Feedback in this minute that needs a follow-up (bucketed by the feedback's minute)."""
    followup_met: int = 0
    followup_needed_on_minute: int = 0
    """Of ``followup_needed``, those whose time is exactly the minute's start: the only
    ones whose deadline equals a window end that lies one deadline after this minute."""
    followup_met_on_minute: int = 0
    comments: int = 0
    """Feedback comments enriched (language, sentiment, emotion, themes): one per event."""
    sentiment_sum: int = 0
    """Sum of the comments' sentiment in thousandths (-1000..1000 each), so sums are exact."""
    sentiment_sum_sq: int = 0
    comments_negative: int = 0
    """Comments labelled negative."""
    theme_delivery: int = 0
    """Comments naming the theme; one counter per built-in theme (``COMMENT_THEMES``)."""
    theme_payment: int = 0
    theme_price: int = 0
    theme_product_quality: int = 0
    theme_stock: int = 0
    theme_usability: int = 0
    theme_customer_service: int = 0
    theme_returns: int = 0

    def __iadd__(self, other: Stats) -> Stats:
        for name in _NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def __add__(self, other: Stats) -> Stats:
        return Stats(*[getattr(self, name) + getattr(other, name) for name in _NAMES])

    @property
    def csat_n(self) -> int:
        return self.csat5_n + self.csat10_n

    @property
    def csat_satisfied(self) -> int:
        return self.csat5_satisfied + self.csat10_satisfied

    @property
    def feedback(self) -> int:
        """Feedback answers of every survey."""
        return self.nps_n + self.csat_n + self.ces_n

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _NAMES}

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Stats:
        return cls(**{name: int(row[name]) for name in _NAMES})


_NAMES: Final = tuple(field.name for field in fields(Stats))
STAT_COLUMNS: Final = _NAMES
THEME_PREFIX: Final = "theme_"
COMMENT_THEMES: Final = tuple(name.removeprefix(THEME_PREFIX) for name in _NAMES
                              if name.startswith(THEME_PREFIX))
"""The built-in comment themes (``streams.comments.labels.THEMES``, which core may not
import; a test holds them equal). Configured themes are stored with each insight but
have no counter: the columns and gauge labels stay bounded."""
MILLI: Final = 1000


def minute_of(epoch_ms: int) -> int:
    """The minute bucket (epoch ms of its start) an event time falls in."""
    return epoch_ms - epoch_ms % MINUTE_MS


def needs_followup(survey: str, score: int, scale: int | None) -> bool:
    """DESIGN: NPS <= 6, CSAT <= 2 (5-point) or <= 4 (10-point), CES <= 3."""
    if survey == "nps":
        return score <= 6
    if survey == "csat":
        return score <= (4 if scale == 10 else 2)
    return score <= 3


def interaction_stats(outcome: str | None) -> Stats:
    return Stats(interactions=1, failures=int(outcome == "failure"))


def feedback_stats(survey: str, score: int, scale: int) -> Stats:
    """One answer's contribution, follow-up counters excluded (see ``followup_stats``)."""
    if survey == "nps":
        return Stats(nps_n=1, nps_promoters=int(score >= 9), nps_detractors=int(score <= 6))
    if survey == "csat":
        satisfied = int(score >= scale - 1)
        if scale == 10:
            return Stats(csat10_n=1, csat10_satisfied=satisfied)
        return Stats(csat5_n=1, csat5_satisfied=satisfied)
    return Stats(ces_n=1, ces_sum=score, ces_sum_sq=score * score)


def followup_stats(occurred_ms: int, met: bool) -> Stats:
    """A feedback needing follow-up, met or not, at its own minute."""
    on_minute = occurred_ms % MINUTE_MS == 0
    return Stats(followup_needed=1, followup_met=int(met),
                 followup_needed_on_minute=int(on_minute),
                 followup_met_on_minute=int(on_minute and met))


def sentiment_milli(sentiment: float) -> int:
    """A sentiment -1..1 as whole thousandths, clamped: the unit every stored sum uses."""
    return max(-MILLI, min(MILLI, round(sentiment * MILLI)))


def comment_stats(sentiment: float, label: str, themes: tuple[str, ...] | list[str]) -> Stats:
    """One enriched comment's contribution; themes outside ``COMMENT_THEMES`` are not counted."""
    milli = sentiment_milli(sentiment)
    stats = Stats(comments=1, sentiment_sum=milli, sentiment_sum_sq=milli * milli,
                  comments_negative=int(label == "negative"))
    for theme in set(themes).intersection(COMMENT_THEMES):
        setattr(stats, THEME_PREFIX + theme, 1)
    return stats


def rollups(scope: Scope) -> tuple[Scope, Scope, Scope]:
    """The scope itself and the scopes it rolls up into."""
    tenant, channel, _ = scope
    return scope, (tenant, channel, ALL), (tenant, ALL, ALL)
