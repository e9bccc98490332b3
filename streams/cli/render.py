"""What ``cxpulse`` shows a person: messages on stderr and the two score tables.

One number-cell formatter, so ``cxpulse scores`` and the demo view show a score
without data (``-``) and round alike; one ``say`` for every command and tool.
"""

from __future__ import annotations

import sys
import time
from typing import Any

Row = dict[str, Any]


def say(text: str) -> None:
    """A message for the person at the terminal: stderr, so stdout stays the data."""
    print(text, file=sys.stderr, flush=True)


def number(value: float | None, digits: int = 1) -> str:
    """A score cell: ``-`` without data, else the value rounded to ``digits``."""
    return "-" if value is None else f"{value:.{digits}f}"


def scores_table(rows: list[Row]) -> str:
    """``cxpulse scores`` as a table: the window, then one line per scope."""
    lines = [f"window {rows[0]['window']} ending {rows[0]['window_end']}",
             f"{'tenant':<14}{'channel':<12}{'touchpoint':<14}{'NPS':>7}{'±':>6}{'n':>6}"
             f"{'CSAT':>7}{'n':>6}{'CES':>6}{'n':>6}{'resp':>7}{'fail':>7}{'SLA':>7}{'health':>8}"]
    for r in rows:
        lines.append(f"{r['tenant']:<14.14}{r['channel']:<12.12}{r['touchpoint']:<14.14}"
                     f"{number(r['nps']):>7}{number(r['nps_moe']):>6}{r['nps_n']:>6}"
                     f"{number(r['csat']):>7}{r['csat_n']:>6}{number(r['ces'], 2):>6}"
                     f"{r['ces_n']:>6}{number(r['response_rate'], 3):>7}"
                     f"{number(r['failure_rate'], 3):>7}{number(r['followup_sla'], 3):>7}"
                     f"{number(r['health']):>8}")
    return "\n".join(lines)


def demo_view(view: dict[str, Any]) -> str:
    """The demo's live view: what landed, then the last hour per tenant and channel."""
    counts = view["counts"]
    lines = [
        f"[{time.strftime('%H:%M:%S')}] landed: interactions {counts.get('interactions', 0)}, "
        f"feedback {counts.get('feedback', 0)}, followups {counts.get('followups', 0)}, "
        f"dead letters {counts.get('deadletters', 0)} "
        + (f"({', '.join(f'{r} {n}' for r, n in view['reasons'].items())})"
           if view["reasons"] else ""),
        f"  last hour   {'tenant':<12}{'channel':<12}{'NPS':>7}{'CSAT':>7}{'CES':>6}"
        f"{'fail%':>7}{'health':>8}",
    ]
    for row in view["scores"]:
        failure = None if row["failure_rate"] is None else 100 * row["failure_rate"]
        alert = "  <-- low" if row["health"] is not None and row["health"] < 60 else ""
        lines.append(f"              {row['tenant']:<12.12}{row['channel']:<12.12}"
                     f"{number(row['nps']):>7}{number(row['csat']):>7}{number(row['ces'], 2):>6}"
                     f"{number(failure):>7}{number(row['health']):>8}{alert}")
    return "\n".join(lines)


def alerts_table(changes: list[Row]) -> str:
    """``cxpulse alerts``: one line per state change, oldest first."""
    lines = [f"{'at':<21}{'state':<9}{'severity':<9}{'tenant':<14}{'channel':<12}"
             f"{'touchpoint':<12}{'metric':<16}reason"]
    for c in changes:
        lines.append(f"{c['at']:<21}{c['state']:<9}{c['severity']:<9}{c['tenant']:<14.14}"
                     f"{c['channel']:<12.12}{c['touchpoint']:<12.12}{c['metric']:<16}"
                     f"{c['reason']}")
    return "\n".join(lines)
