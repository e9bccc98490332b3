"""An independent, deliberately naive implementation of DESIGN.md's score definitions.

It works on plain event lists, never on our statistics, so tests can compare the
pipeline against it. Keep it simple enough to check by eye.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEADLINE_MS = 48 * 3600 * 1000


@dataclass(frozen=True)
class Answer:
    at_ms: int
    survey: str
    score: int
    scale: int = 5
    followed_up_at_ms: int | None = None  # earliest contacted/resolved follow-up


@dataclass(frozen=True)
class Visit:
    at_ms: int
    failed: bool


def in_window(at_ms: int, end_ms: int, window_ms: int) -> bool:
    return end_ms - window_ms <= at_ms < end_ms


def needs(answer: Answer) -> bool:
    if answer.survey == "nps":
        return answer.score <= 6
    if answer.survey == "csat":
        return answer.score <= (2 if answer.scale == 5 else 4)
    return answer.score <= 3


def reference_scores(answers: list[Answer], visits: list[Visit], end_ms: int,
                     window_ms: int) -> dict[str, float | None]:
    answers = [a for a in answers if in_window(a.at_ms, end_ms, window_ms)]
    visits = [v for v in visits if in_window(v.at_ms, end_ms, window_ms)]
    nps_scores = [a.score for a in answers if a.survey == "nps"]
    csat = [a for a in answers if a.survey == "csat"]
    ces = [a.score for a in answers if a.survey == "ces"]
    out: dict[str, float | None] = {"nps": None, "nps_moe": None, "csat": None, "ces": None,
                                    "response_rate": None, "failure_rate": None,
                                    "followup_sla": None}
    if nps_scores:
        n = len(nps_scores)
        p = sum(s >= 9 for s in nps_scores) / n
        d = sum(s <= 6 for s in nps_scores) / n
        out["nps"] = 100 * (p - d)
        out["nps_moe"] = 1.96 * 100 * math.sqrt((p + d - (p - d) ** 2) / n)
    if csat:
        out["csat"] = 100 * sum(a.score >= a.scale - 1 for a in csat) / len(csat)
    if ces:
        out["ces"] = sum(ces) / len(ces)
    if visits:
        out["response_rate"] = len(answers) / len(visits)
        out["failure_rate"] = sum(v.failed for v in visits) / len(visits)
    due = [a for a in answers if needs(a) and a.at_ms + DEADLINE_MS <= end_ms]
    if due:
        met = [a for a in due if a.followed_up_at_ms is not None
               and a.followed_up_at_ms <= a.at_ms + DEADLINE_MS]
        out["followup_sla"] = len(met) / len(due)
    return out
