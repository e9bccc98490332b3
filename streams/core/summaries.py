"""The readable summary of an incident: what a CX lead reads in a page, a topic message
and ``cxpulse top``. No I/O.

It reads the incident as JSON (``cxpulse incidents --json``, ``/v1/incidents`` and the
``cx.incidents`` topic all carry the same document), so every place that shows an
incident says the same words: what dropped, where (the scope the attribution narrowed
it to), since when, how many customers, the theme surges and a few masked verbatims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from streams.core.drops import RISING, shown
from streams.core.stats import ALL

VERBATIMS: Final = 3
VERBATIM_CHARS: Final = 160


@dataclass(frozen=True, slots=True)
class Summary:
    head: str
    """One line: the tenant, what changed where and by how much."""
    lines: tuple[str, ...]
    """What, where, since when, customers, themes, verbatims: one fact a line."""

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _where(channel: str, touchpoint: str) -> str:
    parts = [part for part in (channel, touchpoint) if part != ALL]
    return " ".join(parts) if parts else "all channels"


def _what(incident: Mapping[str, Any], split: Mapping[str, Any]) -> str:
    """E.g. "failure_rate rose from 0.030 to 0.360 in mobile_app"."""
    if not split:
        return (f"{incident['primary_metric']} worse in "
                f"{_where(incident['primary_channel'], incident['primary_touchpoint'])}")
    metric = split["metric"]
    verb = "rose" if split["value"] > split["baseline"] else "fell"
    worse = (verb == "rose") == (metric in RISING)
    return (f"{metric} {verb} from {shown(metric, split['baseline'])} to "
            f"{shown(metric, split['value'])} in {_where(split['channel'], split['touchpoint'])}"
            + ("" if worse else " (recovering)"))


def _cut(text: str, limit: int = VERBATIM_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def summarize(incident: Mapping[str, Any], verbatims: int = VERBATIMS) -> Summary:
    """The summary of one incident document (times in RFC 3339; ``attribution`` and
    ``evidence`` may be missing or null: the incident is then told from its alerts)."""
    split = incident.get("attribution") or {}
    proof = incident.get("evidence") or {}
    metrics = list(incident.get("metrics") or [incident["primary_metric"]])
    cause = split.get("cause") or {}
    where = (_where(cause["channel"], cause["touchpoint"]) if cause
             else _where(incident["channel"], incident["touchpoint"]))
    head = f"{incident['tenant']}: " + (split["summary"] if split.get("summary") else
                                        f"{incident['primary_metric']} worse in {where}")
    if split:
        head += f" ({shown(split['metric'], split['baseline'])} → " \
                f"{shown(split['metric'], split['value'])})"
    alerts = int(incident.get("alerts") or len(metrics))
    lines = [f"What: {_what(incident, split)} ({incident['severity']}; {alerts} alert"
             f"{'s' if alerts != 1 else ''}: {', '.join(metrics)})",
             f"Where: {split['summary'] if split.get('summary') else where}"]
    since = f"Since: {incident['opened_at']}"
    if incident.get("resolved_at"):
        since += f", resolved at {incident['resolved_at']}"
    lines.append(since)
    counts = []
    if proof.get("customers") is not None:
        counts.append(f"{proof['customers']} customers failed or unhappy in {where}")
    if proof.get("cases") is not None:
        counts.append(f"{proof['cases']} follow-up cases opened")
    if counts:
        lines.append("Customers: " + ", ".join(counts))
    surges = [(f"{s['theme']} x{s['ratio']:.1f}" if s.get("ratio") is not None
               else f"{s['theme']} new") + (f" ({s['comments']} comments)" if "comments" in s
                                            else "")
              for s in split.get("surges") or []]
    if surges:
        lines.append("Themes: " + ", ".join(surges))
    for comment in (proof.get("comments") or [])[:verbatims]:
        about = [comment.get("language") or "?", *comment.get("themes", [])]
        lines.append(f"Says: \"{_cut(comment['comment'])}\" ({', '.join(about)})")
    return Summary(head, tuple(lines))
