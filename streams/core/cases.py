"""Follow-up cases (close the loop), with no I/O.

Every feedback that needs follow-up (``stats.needs_followup``) is a case: it opens
at the feedback's time, is due one deadline later, and is met by its first
closing follow-up (``facts.closing_rank``) when that is in time
(``facts.in_time``), exactly as the follow-up SLA counts it. The state is not
stored but read: met, else overdue once now is past the due time, else open,
since a case becomes overdue by time passing, not by an event.

A case is a row of ``cx.followup_cases`` (ReplacingMergeTree(version)), written
whenever the feedback or a closing follow-up of it is stored. Its version holds
the feedback's revision in the high bits (a later revision always wins) and below
them 0 while unmet, growing the earlier (by ``closing_rank``) the follow-up that
met it; so whatever the arrival order, duplicates or replays, the row with the
highest version is the one a recomputation from the raw events gives. A revision
that needs no follow-up any more writes the case ``withdrawn``.
"""

from __future__ import annotations

from typing import Any, Final

from streams.core.facts import CLOSING_ACTIONS, Answer, in_time

CASE_COLUMNS: Final = ("tenant", "channel", "touchpoint", "feedback_id", "customer_id", "survey",
                       "score", "scale", "comment", "opened_at", "opened_ms", "due_at", "met_at",
                       "followup_action", "version", "revision", "withdrawn")
CaseRow = tuple[Any, ...]
"""A ``cx.followup_cases`` row in ``CASE_COLUMNS`` order (times as epoch seconds)."""
Closing = tuple[int, str]
"""A closing follow-up of a feedback: (event time in epoch ms, action)."""
STATES: Final = ("open", "overdue", "met")
REVISION_SHIFT: Final = 37
"""The revision's place in a case version: the met part below it stays under 2**37."""
MET_SPAN_MS: Final = 2**35
"""How far before its due time a follow-up still ranks apart (about 397 days): bounded, so
the met part fits below the revision."""


def met_by(answer: Answer, first: Closing | None, deadline_ms: int) -> Closing | None:
    """The follow-up that meets the case, given its first closing follow-up (None if none)."""
    if first is None or not in_time(answer.occurred_ms, first[0], deadline_ms):
        return None
    return first


def case_version(due_ms: int, met: Closing | None, revision: int = 0) -> int:
    """``revision`` in the high bits; below them 0 while unmet, >= 1 once met, larger the
    earlier it was met (``facts.closing_rank``, relative to the due time and bounded)."""
    part = 0
    if met is not None:  # 2 * due + 2 - closing_rank(*met), the earlier the larger
        at_ms, action = met
        part = 2 * min(MET_SPAN_MS, max(0, due_ms - at_ms)) + 2 - CLOSING_ACTIONS.index(action)
    return (revision << REVISION_SHIFT) + part


def case_row(answer: Answer, met: Closing | None, deadline_ms: int) -> CaseRow:
    """The case of a feedback needing follow-up, met by ``met`` (see ``met_by``) or not yet."""
    opened_ms = answer.occurred_ms
    due_ms = opened_ms + deadline_ms
    return (*answer.scope, answer.event_id, answer.customer_id, answer.survey, answer.score,
            answer.scale, answer.comment, opened_ms // 1000, opened_ms % 1000, due_ms // 1000,
            None if met is None else met[0] // 1000, "" if met is None else met[1],
            case_version(due_ms, met, answer.revision), answer.revision, 0)


def withdrawn_case(answer: Answer, revision: int, deadline_ms: int) -> CaseRow:
    """The case of an older revision ``answer`` that revision ``revision`` withdraws (it
    needs no follow-up, or moved to another tenant): it outranks every row of the older
    revisions and reads as no case."""
    row = case_row(answer, None, deadline_ms)
    return (*row[:-3], revision << REVISION_SHIFT, revision, 1)


def case_state(met: bool, due_ms: int, now_ms: int) -> str:
    """``met``; else ``overdue`` once ``now`` is past the due time (a follow-up at the due
    time itself is still in time); else ``open``."""
    if met:
        return "met"
    return "overdue" if now_ms > due_ms else "open"
