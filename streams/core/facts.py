"""Each counted event's contribution to the statistics (a "fact"), with no I/O.

A fact is keyed by scope, minute and event id, so storing it twice changes
nothing; sums of facts per scope and minute are the ``Stats`` of that minute.
Facts are rows in ``FACT_COLUMNS`` order; their statistics come from the rules
in ``stats`` and are memoised, since an answer has only a few hundred possible
contributions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from streams.core.contract import ValidEvent
from streams.core.events import Feedback, Interaction
from streams.core.stats import (
    MINUTE_MS,
    STAT_COLUMNS,
    Scope,
    Stats,
    comment_stats,
    feedback_stats,
    followup_stats,
    interaction_stats,
    needs_followup,
)

CLOSING_ACTIONS: Final = ("contacted", "resolved")
COMMENT_FACT_PREFIX: Final = "comment:"
"""A comment's fact is keyed ``comment:<event id>``: apart from its feedback's own fact,
which is replaced by its ``followup_met`` version, and from any other event id."""
FACT_COLUMNS: Final = ("tenant", "channel", "touchpoint", "minute", "event_id", *STAT_COLUMNS,
                       "version")
FactRow = tuple[Any, ...]
"""(tenant, channel, touchpoint, minute as epoch seconds, event_id, *statistics, version).

``score_facts`` is ReplacingMergeTree(version): a feedback fact is versioned
2 * revision + followup_met (a later revision, or the met version of the same one,
replaces it), a comment fact 2 * revision, an interaction 0, and a tombstone (the
zero fact a revision leaves where an older revision counted) 2 * revision + 1."""
MinuteKey = tuple[str, str, str, int]
"""(tenant, channel, touchpoint, minute as epoch seconds): where a fact counts."""
_ZERO: Final = (0,) * len(STAT_COLUMNS)


def _values(stats: Stats) -> tuple[int, ...]:
    return tuple(stats.as_dict().values())


@cache
def _interaction_values(outcome: str | None) -> tuple[int, ...]:
    return _values(interaction_stats(outcome))


@cache
def _answer_values(survey: str, score: int, scale: int, on_minute: bool,
                   met: bool) -> tuple[int, ...]:
    stats = feedback_stats(survey, score, scale)
    if needs_followup(survey, score, scale):
        # followup_stats reads only whether the instant is a minute's start: 0 is, 1 ms is not.
        stats += followup_stats(0 if on_minute else 1, met)
    return _values(stats)


@dataclass(frozen=True, slots=True)
class Answer:
    """What scoring and follow-up cases need to know of one feedback answer."""

    event_id: str
    scope: Scope
    occurred_ms: int
    survey: str
    score: int
    scale: int
    customer_id: str = ""
    comment: str = ""
    revision: int = 0

    @property
    def needs_followup(self) -> bool:
        return needs_followup(self.survey, self.score, self.scale)

    @property
    def key(self) -> MinuteKey:
        """Where this answer counts: its scope and minute."""
        return (*self.scope, (self.occurred_ms - self.occurred_ms % MINUTE_MS) // 1000)

    def fact(self, met: bool) -> FactRow:
        minute_ms = self.occurred_ms - self.occurred_ms % MINUTE_MS
        return (*self.scope, minute_ms // 1000, self.event_id,
                *_answer_values(self.survey, self.score, self.scale,
                                self.occurred_ms == minute_ms, met),
                2 * self.revision + met)


def tombstones(event_id: str, key: MinuteKey, revision: int, comment: bool) -> list[FactRow]:
    """Zero facts that take an older revision's answer (and, with ``comment``, its comment's
    fact) out of the sums at ``key``, where the winning ``revision`` no longer counts: they
    outrank every fact of an older revision there (version 2 * revision + 1)."""
    ids = [event_id, COMMENT_FACT_PREFIX + event_id] if comment else [event_id]
    return [(*key, fact_id, *_ZERO, 2 * revision + 1) for fact_id in ids]


def comment_fact(event_id: str, scope: Scope, occurred_ms: int, sentiment: float, label: str,
                 themes: tuple[str, ...] | list[str], revision: int = 0,
                 present: bool = True) -> FactRow:
    """An enriched comment's contribution, at its feedback's minute, versioned 2 * revision.
    Storing it again (a replay, or a newer model's insight) replaces it: same key and
    version, so the last write wins, as the insight row's newest ``enriched_at`` does; a
    later revision's replaces an older one's. A revision without a comment (``present``
    false) writes zeros: an older revision's comment counts no more."""
    minute_ms = occurred_ms - occurred_ms % MINUTE_MS
    values = _values(comment_stats(sentiment, label, themes)) if present else _ZERO
    return (*scope, minute_ms // 1000, COMMENT_FACT_PREFIX + event_id, *values, 2 * revision)


def answer_of(event: ValidEvent) -> Answer:
    e = event.event
    assert isinstance(e, Feedback)
    return Answer(e.event_id, e.scope, event.occurred_ms, e.survey, e.score, e.scale_or_default,
                  e.customer_id or "", e.comment or "", e.revision)


def interaction_fact(event: ValidEvent) -> FactRow:
    e = event.event
    assert isinstance(e, Interaction)
    ms = event.occurred_ms
    return (*e.scope, (ms - ms % MINUTE_MS) // 1000, e.event_id,
            *_interaction_values(e.outcome or None), 0)


def closing_rank(at_ms: int, action: str) -> int:
    """Which closing follow-up of a feedback counts: the earliest; at the same millisecond,
    the first action in ``CLOSING_ACTIONS`` (so every worker picks the same one)."""
    return 2 * at_ms + CLOSING_ACTIONS.index(action)


def in_time(answer_ms: int, followup_ms: int, deadline_ms: int) -> bool:
    """A closing follow-up (contacted or resolved) meets the SLA if not after the deadline."""
    return followup_ms <= answer_ms + deadline_ms
