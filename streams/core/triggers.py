"""Per-response triggers: which answers page a person at once (``case_opened``), no I/O.

An answer triggers when it is an NPS detractor (0-6), the lowest box of CSAT or
CES (score 1), or its comment holds a configured keyword (``CX_NOTIFY_KEYWORDS``):
case-insensitive, whole words only ("cancel" matches "Cancel!" but not
"cancelled"), a phrase matching across any whitespace. The worker sends one
``case_opened`` message per triggered feedback to ``cx.notifications``, keyed by
its event id. Every message carries the feedback's ``revision``; a later revision
of a feedback already notified sends, once per event id and revision,
``case_updated`` (it still triggers: new score, comment or triggers) or
``case_withdrawn`` (it no longer does); an older revision than the last one sent
sends nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Final

import orjson

from streams.core.contract import ValidEvent
from streams.core.events import Feedback
from streams.core.stats import needs_followup
from streams.core.units import format_time

DEFAULT_KEYWORDS: Final = ("cancel", "refund", "lawyer", "complaint", "never again")
NO_KEYWORDS: Final = "none"
"""``CX_NOTIFY_KEYWORDS=none`` turns keyword triggers off."""
NOTIFICATION_TYPE: Final = "case_opened"
CASE_UPDATED: Final = "case_updated"
CASE_WITHDRAWN: Final = "case_withdrawn"
Sent = tuple[int, str]
"""What ``cx.notifications`` recorded last for an event id: (highest revision, its type)."""
Notice = tuple[str, int, str, bytes]
"""A message to send: (event id, revision, type, JSON payload)."""
KEYWORD_PREFIX: Final = "keyword:"


def parse_keywords(text: str) -> tuple[str, ...]:
    """``"Refund, never  again"`` -> ``("refund", "never again")``; ``none`` -> ``()``."""
    if text.strip().lower() == NO_KEYWORDS:
        return ()
    keywords: list[str] = []
    for part in text.split(","):
        keyword = " ".join(part.split()).casefold()
        if keyword and keyword not in keywords:
            keywords.append(keyword)
    if not keywords:
        raise ValueError(f"no keywords in {text!r} (use {NO_KEYWORDS!r} for none)")
    return tuple(keywords)


@cache
def _patterns(keywords: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((keyword, re.compile(
        r"(?<!\w)" + r"\s+".join(map(re.escape, keyword.split())) + r"(?!\w)", re.IGNORECASE))
        for keyword in keywords)


def score_trigger(survey: str, score: int) -> str | None:
    """``nps_detractor`` (0-6), ``csat_lowest`` or ``ces_lowest`` (score 1), else None."""
    if survey == "nps":
        return "nps_detractor" if score <= 6 else None
    return f"{survey}_lowest" if score == 1 else None


def triggers(survey: str, score: int, comment: str, keywords: Iterable[str]) -> list[str]:
    """What makes this answer page someone: its score trigger, then each matched keyword."""
    found = [KEYWORD_PREFIX + keyword for keyword, pattern in _patterns(tuple(keywords))
             if comment and pattern.search(comment)]
    by_score = score_trigger(survey, score)
    return [by_score, *found] if by_score else found


def case_opened(event: ValidEvent, keywords: tuple[str, ...], deadline_ms: int
                ) -> bytes | None:
    """The ``case_opened`` message of a feedback that triggers, else None.

    ``sla`` says whether the answer needs follow-up by the SLA rule, i.e. is a row of
    ``cx.followup_cases`` and counts in follow-up compliance (a keyword alone on a
    happy answer pages, but is not an SLA case).
    """
    e = event.event
    if not isinstance(e, Feedback):
        return None
    matched = triggers(e.survey, e.score, e.comment or "", keywords)
    return _message(NOTIFICATION_TYPE, event, matched, deadline_ms) if matched else None


def _message(kind: str, event: ValidEvent, matched: list[str], deadline_ms: int) -> bytes:
    e = event.event
    assert isinstance(e, Feedback)
    tenant, channel, touchpoint = e.scope
    return orjson.dumps({
        "type": kind, "event_id": e.event_id, "revision": e.revision, "tenant": tenant,
        "channel": channel, "touchpoint": touchpoint, "customer_id": e.customer_id or "",
        "survey": e.survey, "score": e.score, "scale": e.scale_or_default or None,
        "comment": e.comment or "", "occurred_at": format_time(event.occurred_ms),
        "due_at": format_time(event.occurred_ms + deadline_ms), "triggers": matched,
        "sla": needs_followup(e.survey, e.score, e.scale_or_default)})


def latest_feedback(events: Iterable[ValidEvent], keywords: tuple[str, ...]
                    ) -> dict[str, ValidEvent]:
    """The batch's highest revision per feedback event id, where it may need a message:
    it triggers, or it is a revision (which may update or withdraw an earlier message)."""
    latest: dict[str, ValidEvent] = {}
    for event in events:
        e = event.event
        if isinstance(e, Feedback):
            known = latest.get(e.event_id)
            if known is None or e.revision > known.event.revision:  # type: ignore[union-attr]
                latest[e.event_id] = event
    return {key: event for key, event in latest.items()
            if event.event.revision or triggers(  # type: ignore[union-attr]
                event.event.survey, event.event.score,  # type: ignore[union-attr]
                event.event.comment or "", keywords)}  # type: ignore[union-attr]


def notice(event: ValidEvent, keywords: tuple[str, ...], deadline_ms: int,
           sent: Sent | None) -> Notice | None:
    """What to send for a feedback revision, given what was sent for its id before:
    ``case_opened`` the first time it triggers; for a later revision ``case_updated`` if it
    still triggers, else ``case_withdrawn`` (once); nothing for a revision not newer than
    the last one sent."""
    e = event.event
    assert isinstance(e, Feedback)
    matched = triggers(e.survey, e.score, e.comment or "", keywords)
    if sent is None:
        kind = NOTIFICATION_TYPE if matched else None
    elif e.revision <= sent[0]:
        kind = None
    elif matched:
        kind = CASE_UPDATED
    else:
        kind = CASE_WITHDRAWN if sent[1] != CASE_WITHDRAWN else None
    if kind is None:
        return None
    return e.event_id, e.revision, kind, _message(kind, event, matched, deadline_ms)
