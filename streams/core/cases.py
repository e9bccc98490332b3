"""Follow-up cases (close the loop), with no I/O.

Every feedback that needs follow-up (``stats.needs_followup``) is a case: it opens
at the feedback's time, is due one deadline later, and is met by its first
closing follow-up (``facts.closing_rank``) when that is in time
(``facts.in_time``), exactly as the follow-up SLA counts it. The state is not
stored but read: met, else overdue once now is past the due time, else open,
since a case becomes overdue by time passing, not by an event.

A case is a row of ``cx.followup_cases`` (ReplacingMergeTree(version)), written
whenever the feedback or a closing follow-up of it is stored. Its version is 0
while unmet and grows the earlier (by ``closing_rank``) the follow-up that met
it, so whatever the arrival order, duplicates or replays, the row with the
highest version is the one a recomputation from the raw events gives.
"""

from __future__ import annotations

from typing import Any, Final

from streams.core.facts import Answer, closing_rank, in_time

CASE_COLUMNS: Final = ("tenant", "channel", "touchpoint", "feedback_id", "customer_id", "survey",
                       "score", "scale", "comment", "opened_at", "opened_ms", "due_at", "met_at",
                       "followup_action", "version")
CaseRow = tuple[Any, ...]
"""A ``cx.followup_cases`` row in ``CASE_COLUMNS`` order (times as epoch seconds)."""
Closing = tuple[int, str]
"""A closing follow-up of a feedback: (event time in epoch ms, action)."""
STATES: Final = ("open", "overdue", "met")


def met_by(answer: Answer, first: Closing | None, deadline_ms: int) -> Closing | None:
    """The follow-up that meets the case, given its first closing follow-up (None if none)."""
    if first is None or not in_time(answer.occurred_ms, first[0], deadline_ms):
        return None
    return first


def case_version(due_ms: int, met: Closing | None) -> int:
    """0 while unmet; >= 1 once met, larger the earlier it was met."""
    if met is None:
        return 0
    return 2 * due_ms + 2 - closing_rank(*met)


def case_row(answer: Answer, met: Closing | None, deadline_ms: int) -> CaseRow:
    """The case of a feedback needing follow-up, met by ``met`` (see ``met_by``) or not yet."""
    opened_ms = answer.occurred_ms
    due_ms = opened_ms + deadline_ms
    return (*answer.scope, answer.event_id, answer.customer_id, answer.survey, answer.score,
            answer.scale, answer.comment, opened_ms // 1000, opened_ms % 1000, due_ms // 1000,
            None if met is None else met[0] // 1000, "" if met is None else met[1],
            case_version(due_ms, met))


def case_state(met: bool, due_ms: int, now_ms: int) -> str:
    """``met``; else ``overdue`` once ``now`` is past the due time (a follow-up at the due
    time itself is still in time); else ``open``."""
    if met:
        return "met"
    return "overdue" if now_ms > due_ms else "open"
