"""Per-response triggers: which answers page a person at once (``case_opened``), no I/O.

An answer triggers when it is an NPS detractor (0-6), the lowest box of CSAT or
CES (score 1), or its comment holds a configured keyword (``CX_NOTIFY_KEYWORDS``):
case-insensitive, whole words only ("cancel" matches "Cancel!" but not
"cancelled"), a phrase matching across any whitespace. The worker sends one
``case_opened`` message per triggered feedback to ``cx.notifications``, keyed by
its event id.
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
    if not matched:
        return None
    tenant, channel, touchpoint = e.scope
    return orjson.dumps({
        "type": NOTIFICATION_TYPE, "event_id": e.event_id, "tenant": tenant,
        "channel": channel, "touchpoint": touchpoint, "customer_id": e.customer_id or "",
        "survey": e.survey, "score": e.score, "scale": e.scale_or_default or None,
        "comment": e.comment or "", "occurred_at": format_time(event.occurred_ms),
        "due_at": format_time(event.occurred_ms + deadline_ms), "triggers": matched,
        "sla": needs_followup(e.survey, e.score, e.scale_or_default)})


def notifications(events: Iterable[ValidEvent], keywords: tuple[str, ...], deadline_ms: int
                  ) -> dict[str, bytes]:
    """The ``case_opened`` messages of a batch by event id (a duplicate in it counts once)."""
    found: dict[str, bytes] = {}
    for event in events:
        if event.type == "feedback" and event.event.event_id not in found:
            message = case_opened(event, keywords, deadline_ms)
            if message is not None:
                found[event.event.event_id] = message
    return found
