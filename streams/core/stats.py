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


def rollups(scope: Scope) -> tuple[Scope, Scope, Scope]:
    """The scope itself and the scopes it rolls up into."""
    tenant, channel, _ = scope
    return scope, (tenant, channel, ALL), (tenant, ALL, ALL)
