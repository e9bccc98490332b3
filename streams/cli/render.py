"""What ``cxpulse`` shows a person: listings, the score tables and the cases.

One number-cell formatter, so ``cxpulse scores`` and the demo view show a score
without data (``-``) and round alike; messages on stderr go through ``streams.console.say``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from streams.console import say
from streams.core.stats import COMMENT_THEMES, THEME_PREFIX
from streams.core.summaries import summarize

Row = dict[str, Any]


def show(rows: list[Row], *, as_json: bool, table: Callable[[list[Row]], str],
         empty: str) -> None:
    """A listing as asked: a JSON array on stdout, else a table, else one line saying why not."""
    if as_json:
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    elif rows:
        print(table(rows))
    else:
        say(empty)


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


def _overdue(seconds: int | None) -> str:
    """``-`` while open, else e.g. ``2d03h`` or ``5h12m``."""
    if seconds is None:
        return "-"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d{hours:02d}h" if days else f"{hours}h{rest // 60:02d}m"


def _minute(stamp: str) -> str:
    """An RFC 3339 time as a table shows it: ``2026-11-23 14:31``."""
    return stamp[:16].replace("T", " ")


def _gist(text: str, width: int = 60) -> str:
    """Free text on one line, cut to ``width``: the last cell of a table line."""
    return " ".join(text.split())[:width]


def cases_table(rows: list[Row]) -> str:
    """``cxpulse cases``: one line per case, oldest first; the customer id whole (it is
    whom to call), the comment last, cut to fit."""
    width = max(len("customer"), *(len(r["customer_id"]) for r in rows)) + 2
    lines = [f"{'opened (UTC)':<17}{'due (UTC)':<17}{'state':<8}{'overdue':>8}  {'tenant':<12}"
             f"{'channel':<11}{'touchpoint':<12}{'survey':<7}{'score':>5}  "
             f"{'customer':<{width}}comment"]
    for r in rows:
        lines.append(f"{_minute(r['opened_at']):<17}{_minute(r['due_at']):<17}{r['state']:<8}"
                     f"{_overdue(r['overdue_seconds']):>8}  {r['tenant']:<12.12}"
                     f"{r['channel']:<11.11}{r['touchpoint']:<12.12}{r['survey']:<7}"
                     f"{r['score']:>5}  {r['customer_id'] or '-':<{width}}{_gist(r['comment'])}")
    return "\n".join(lines)


def comments_table(rows: list[Row]) -> str:
    """``cxpulse comments``: one line per comment, newest first, the text last, cut to fit."""
    lines = [f"{'occurred (UTC)':<17}{'tenant':<12}{'channel':<11}{'touchpoint':<12}{'lang':<5}"
             f"{'label':<9}{'sent':>6}  {'emotion':<15}{'themes':<28}comment"]
    for r in rows:
        lines.append(f"{_minute(r['occurred_at']):<17}{r['tenant']:<12.12}"
                     f"{r['channel']:<11.11}{r['touchpoint']:<12.12}{r['language']:<5.5}"
                     f"{r['label']:<9}{r['sentiment']:>+6.2f}  {r['emotion']:<15.15}"
                     f"{','.join(r['themes']) or '-':<28.28}{_gist(r['comment'])}")
    return "\n".join(lines)


def landed_line(counts: dict[str, int], reasons: dict[str, int]) -> str:
    """What the demo's pipeline wrote so far, dead letters by reason."""
    return (f"landed: interactions {counts.get('interactions', 0)}, "
            f"feedback {counts.get('feedback', 0)}, followups {counts.get('followups', 0)}, "
            f"dead letters {counts.get('deadletters', 0)} "
            + (f"({', '.join(f'{r} {n}' for r, n in reasons.items())})" if reasons else ""))


def sentiment_cell(row: Row) -> str:
    """Mean comment sentiment, signed (``+0.42``); ``-`` without comments."""
    value = row.get("sentiment")
    return "-" if value is None else f"{value:+.2f}"


def top_theme(row: Row) -> str:
    """The theme most comments name, with its share (``delivery 34%``); ``-`` without one."""
    shares = [(row.get(f"{THEME_PREFIX}{theme}") or 0.0, theme) for theme in COMMENT_THEMES]
    share, theme = max(shares)
    return f"{theme} {100 * share:.0f}%" if share > 0 else "-"


def demo_view(view: dict[str, Any]) -> str:
    """The demo's live view: what landed, then the last hour per tenant and channel."""
    lines = [
        f"[{time.strftime('%H:%M:%S')}] {landed_line(view['counts'], view['reasons'])}",
        f"  last hour   {'tenant':<12}{'channel':<12}{'NPS':>7}{'CSAT':>7}{'CES':>6}"
        f"{'fail%':>7}{'health':>8}{'senti':>7}  top theme",
    ]
    for row in view["scores"]:
        failure = None if row["failure_rate"] is None else 100 * row["failure_rate"]
        alert = "  <-- low" if row["health"] is not None and row["health"] < 60 else ""
        lines.append(f"              {row['tenant']:<12.12}{row['channel']:<12.12}"
                     f"{number(row['nps']):>7}{number(row['csat']):>7}{number(row['ces'], 2):>6}"
                     f"{number(failure):>7}{number(row['health']):>8}"
                     f"{sentiment_cell(row):>7}  {top_theme(row):<22}{alert}".rstrip())
    return "\n".join(lines)


def alert_line(change: Row) -> str:
    """One alert state change for the demo's live view."""
    scope = "/".join((change["tenant"], change["channel"], change["touchpoint"]))
    mark = "ALERT" if change["state"] == "firing" else "  ok "
    return (f"  {mark} {change['state']:<8} {change['severity']:<8} {scope} "
            f"{change['metric']}: {change['reason']}")


def incident_line(incident: Row) -> str:
    """One incident in a line: severity, its summary's head (tenant, what changed where and
    by how much) and since when; ``cxpulse top`` and the demo's scrolling view."""
    return (f"{incident['severity']:<9}{summarize(incident).head}  since "
            f"{incident['opened_at'][11:16]}")


def incidents_table(incidents: list[Row]) -> str:
    """``cxpulse incidents``: one line per incident, newest opened first; its attribution
    (what explains the change) and evidence (verbatims, cases) on indented lines."""
    lines = [f"{'opened':<21}{'state':<9}{'severity':<9}{'tenant':<14}{'channel':<12}"
             f"{'touchpoint':<12}{'alerts':>6}  primary / metrics"]
    for i in incidents:
        lines.append(f"{i['opened_at']:<21}{i['state']:<9}{i['severity']:<9}"
                     f"{i['tenant']:<14.14}{i['channel']:<12.12}{i['touchpoint']:<12.12}"
                     f"{i['alerts']:>6}  {i['primary_metric']} / {','.join(i['metrics'])}")
        attribution, evidence = i.get("attribution") or {}, i.get("evidence") or {}
        if attribution.get("summary"):
            lines.append(f"{'':<4}{attribution['summary']}")
        surges = [f"{s['theme']} x{s['ratio']:.1f}" if s["ratio"] is not None
                  else f"{s['theme']} new" for s in attribution.get("surges", [])]
        if surges:
            lines.append(f"{'':<4}themes: {', '.join(surges)}")
        for comment in evidence.get("comments", []):
            themes = f" [{','.join(comment['themes'])}]" if comment["themes"] else ""
            lines.append(f"{'':<4}\"{comment['comment']}\" ({comment['language']}){themes}")
        if evidence.get("cases"):
            lines.append(f"{'':<4}{evidence['cases']} follow-up cases opened")
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
