"""Each counted event's contribution to the statistics (a "fact"), with no I/O.

A fact is keyed by scope, minute and event id, so storing it twice changes
nothing; sums of facts per scope and minute are the ``Stats`` of that minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from streams.core.contract import ValidEvent
from streams.core.stats import (
    Scope,
    Stats,
    feedback_stats,
    followup_stats,
    interaction_stats,
    minute_of,
    needs_followup,
)

CLOSING_ACTIONS: Final = ("contacted", "resolved")


@dataclass(frozen=True, slots=True)
class Fact:
    scope: Scope
    minute_ms: int
    event_id: str
    stats: Stats

    def row(self) -> dict[str, Any]:
        tenant, channel, touchpoint = self.scope
        return {"tenant": tenant, "channel": channel, "touchpoint": touchpoint,
                "minute": self.minute_ms // 1000, "event_id": self.event_id,
                **self.stats.as_dict()}


@dataclass(frozen=True, slots=True)
class Answer:
    """What scoring needs to know of one feedback answer."""

    event_id: str
    scope: Scope
    occurred_ms: int
    survey: str
    score: int
    scale: int

    @property
    def needs_followup(self) -> bool:
        return needs_followup(self.survey, self.score, self.scale)

    def fact(self, met: bool) -> Fact:
        stats = feedback_stats(self.survey, self.score, self.scale)
        if self.needs_followup:
            stats += followup_stats(self.occurred_ms, met)
        return Fact(self.scope, minute_of(self.occurred_ms), self.event_id, stats)


def scope_of(fields: dict[str, Any]) -> Scope:
    return fields["tenant"], fields["channel"], fields.get("touchpoint") or "unspecified"


def answer_of(event: ValidEvent) -> Answer:
    data = event.fields
    scale = int(data.get("scale", 5)) if data["survey"] == "csat" else 0
    return Answer(data["event_id"], scope_of(data), event.occurred_ms, data["survey"],
                  int(data["score"]), scale)


def interaction_fact(event: ValidEvent) -> Fact:
    data = event.fields
    return Fact(scope_of(data), minute_of(event.occurred_ms), data["event_id"],
                interaction_stats(data.get("outcome")))


def in_time(answer_ms: int, followup_ms: int, deadline_ms: int) -> bool:
    """A closing follow-up (contacted or resolved) meets the SLA if not after the deadline."""
    return followup_ms <= answer_ms + deadline_ms
