"""What ``cxpulse top`` draws: pure functions from fetched rows to screen lines.

No terminal and no I/O here, so every cell, the sparkline and the layout are
unit-tested; ``streams.cli.top`` puts the lines on a terminal (or stdout).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from streams.cli.render import incident_line, number, sentiment_cell, top_theme
from streams.core.scores import is_blind_spot
from streams.core.stats import ALL

Row = dict[str, Any]
Line = tuple[str, str]
"""A screen line and its style: ``title``, ``head``, ``alert``, ``warn`` or ``""``."""

WINDOWS = ("1h", "24h", "7d")
BLOCKS = "▁▂▃▄▅▆▇█"
NO_DATA = "·"
TREND_STEP = "5m"
TREND_BUCKETS = 12
KEYS_HELP = "t/→ next tenant  T/← previous  1-9 tenant  w window (1h/24h/7d)  r refresh  q quit"


@dataclass(frozen=True)
class View:
    """One fetch: scores of every tenant (channel rows and the tenant rollup), the
    chosen tenant's trend (health per 5 minutes over the last hour, per channel),
    the alerts firing now and the incidents open now."""

    window: str
    end: str
    rows: list[Row]
    trend: dict[str, list[float | None]] = field(default_factory=dict)
    alerts: list[Row] = field(default_factory=list)
    incidents: list[Row] = field(default_factory=list)

    @property
    def tenants(self) -> list[str]:
        return sorted({row["tenant"] for row in self.rows})


@dataclass(frozen=True)
class State:
    """What the person picked: a tenant (None: the first) and a window."""

    tenant: str | None = None
    window: str = WINDOWS[0]

    def chosen(self, tenants: Sequence[str]) -> str | None:
        """The tenant to show: the picked one while it exists, else the first."""
        if self.tenant in tenants:
            return self.tenant
        return tenants[0] if tenants else None


def on_key(state: State, key: str, tenants: Sequence[str]) -> State | None:
    """The state after a key press; None to quit. Unknown keys change nothing."""
    if key in ("q", "Q"):
        return None
    if key == "w":
        return replace(state, window=WINDOWS[(WINDOWS.index(state.window) + 1) % len(WINDOWS)])
    if not tenants:
        return state
    current = state.chosen(tenants)
    at = tenants.index(current) if current in tenants else 0
    if key in ("t", "RIGHT", "DOWN", "\t"):
        return replace(state, tenant=tenants[(at + 1) % len(tenants)])
    if key in ("T", "LEFT", "UP"):
        return replace(state, tenant=tenants[(at - 1) % len(tenants)])
    if key.isdigit() and 1 <= int(key) <= len(tenants):
        return replace(state, tenant=tenants[int(key) - 1])
    return state


def sparkline(values: Sequence[float | None], min_span: float = 20.0) -> str:
    """One block per value, scaled to the series' range (at least ``min_span`` wide, so
    noise on a flat series stays flat); ``·`` where there is no data."""
    known = [value for value in values if value is not None]
    if not known:
        return NO_DATA * len(values)
    low, high = min(known), max(known)
    span = max(high - low, min_span)
    base = low - (span - (high - low)) / 2
    return "".join(NO_DATA if value is None
                   else BLOCKS[min(len(BLOCKS) - 1, int((value - base) / span * len(BLOCKS)))]
                   for value in values)


def percent(rate: float | None) -> str:
    """A rate (0..1) as a percentage cell."""
    return number(None if rate is None else 100 * rate)


def interval(value: float | None, low: float | None, high: float | None, digits: int) -> str:
    """A score with its 95% interval, e.g. ``74.3 [70-78]``; ``-`` without data; the value
    alone when it has no interval (one CES answer has no spread)."""
    if value is None:
        return "-"
    if low is None or high is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits - 1}f}-{high:.{digits - 1}f}]"


def nps_cell(row: Row) -> str:
    """NPS with its margin of error, e.g. ``10.7 ±8.2``."""
    return "-" if row["nps"] is None else f"{row['nps']:.1f} ±{row['nps_moe']:.1f}"


COLUMNS = (("channel", 12, "<"), ("health", 7, ">"), ("trend 1h", 14, ">"), ("NPS ±moe", 13, ">"),
           ("n", 6, ">"), ("CSAT [95%]", 16, ">"), ("n", 6, ">"), ("CES [95%]", 15, ">"),
           ("n", 6, ">"), ("resp%", 7, ">"), ("fail%", 7, ">"), ("SLA%", 7, ">"),
           ("senti", 7, ">"), ("  top theme", 22, "<"), ("overdue", 8, ">"))


def table_line(cells: Sequence[str]) -> str:
    """Cells laid out in ``COLUMNS``; a cell too long for its column is cut."""
    return "".join(f"{cell[:width - 1] if align == '<' else cell:{align}{width}}"
                   for cell, (_, width, align) in zip(cells, COLUMNS, strict=True)).rstrip()


def score_line(row: Row, trend: Sequence[float | None]) -> str:
    """One channel (or the tenant, ``all``) of the table."""
    return table_line((
        "all" if row["channel"] == ALL else row["channel"], number(row["health"]),
        sparkline(trend) if trend else "", nps_cell(row), str(row["nps_n"]),
        interval(row["csat"], row["csat_low"], row["csat_high"], 1), str(row["csat_n"]),
        interval(row["ces"], row["ces_low"], row["ces_high"], 2), str(row["ces_n"]),
        percent(row["response_rate"]), percent(row["failure_rate"]),
        percent(row["followup_sla"]), sentiment_cell(row), "  " + top_theme(row),
        str(row["followup_overdue"])))


def tenant_bar(tenants: Sequence[str], chosen: str | None, alerts: Sequence[Row]) -> str:
    """Every tenant numbered, the chosen one in brackets, ``!N`` where N alerts fire."""
    cells = []
    for number_, tenant in enumerate(tenants, 1):
        firing = sum(1 for alert in alerts if alert["tenant"] == tenant)
        label = f"{number_} {tenant}" + (f" !{firing}" if firing else "")
        cells.append(f"[{label}]" if tenant == chosen else f" {label} ")
    return ("tenants: " + " ".join(cells)).rstrip()


def blind_spots(rows: Sequence[Row], min_answers: int) -> str:
    """Channels with interactions but fewer than ``min_answers`` answers in the window."""
    spots = [f"{row['channel']} ({row['feedback']} answers / {row['interactions']} interactions)"
             for row in rows if row["channel"] != ALL
             and is_blind_spot(row["interactions"], row["feedback"], min_answers)]
    return f"blind spots (< {min_answers} answers): " + (", ".join(spots) if spots else "none")


def overdue_line(rows: Sequence[Row]) -> str:
    """Follow-ups that came due in the window unmet, per channel."""
    channels = [row for row in rows if row["channel"] != ALL and row["followup_overdue"]]
    total = sum(row["followup_overdue"] for row in channels)
    due = sum(row["followup_due"] for row in rows if row["channel"] != ALL)
    if not total:
        return f"overdue follow-ups: none ({due} came due in the window)"
    return (f"overdue follow-ups: {total} of {due} due (" + ", ".join(
        f"{row['channel']} {row['followup_overdue']}" for row in channels) + ")")


def incident_lines(incidents: Sequence[Row], tenant: str | None) -> list[Line]:
    """The chosen tenant's open incidents, one line each (severity, the summary's head:
    tenant, what changed where; since when), above its alerts; nothing when none is open."""
    mine = [incident for incident in incidents if incident["tenant"] == tenant]
    if not mine:
        return []
    return [(f"incidents open: {len(mine)}", "head"),
            *((f"  {incident_line(incident)}", "alert") for incident in mine)]


def alert_lines(alerts: Sequence[Row], tenant: str | None) -> list[Line]:
    """The chosen tenant's firing alerts, one line each, and how many fire elsewhere."""
    mine = [alert for alert in alerts if alert["tenant"] == tenant]
    lines: list[Line] = [(f"alerts firing: {len(mine) or 'none'}", "head" if mine else "")]
    for alert in mine:
        scope = f"{alert['channel']}/{alert['touchpoint']}"
        lines.append((f"  {alert['severity']:<9}{scope:<24} {alert['metric']:<15} since "
                      f"{alert['at'][11:16]}  {alert['reason']}", "alert"))
    others = len(alerts) - len(mine)
    if others:
        lines.append((f"  + {others} firing for other tenants", "warn"))
    return lines


def screen(view: View | None, state: State, *, source: str, min_answers: int,
           width: int | None = None, height: int | None = None, error: str | None = None,
           notes: Sequence[str] = (), clock: float | None = None) -> list[Line]:
    """The whole screen, cut to ``width`` x ``height`` (None: no limit); the key help
    stays on the last line."""
    stamp = time.strftime("%H:%M:%S UTC", time.gmtime(clock))
    lines: list[Line] = [(f"CX Pulse top · {source} · {stamp}", "title"),
                         *((note, "") for note in notes)]
    if error:
        lines.append((f"error: {error} (retrying)", "alert"))
    if view is None:
        lines.append(("waiting for the first scores ...", ""))
    elif not view.rows:
        lines.append((f"no scores yet in the last {state.window} (window ending {view.end}): "
                      "waiting for data", "warn"))
        lines += alert_lines(view.alerts, None)
    else:
        chosen = state.chosen(view.tenants)
        rows = [row for row in view.rows if row["tenant"] == chosen]
        lines += [(tenant_bar(view.tenants, chosen, view.alerts), ""),
                  (f"{chosen} · window {view.window} ending {view.end} · trend: health per "
                   f"{TREND_STEP} over the last hour", "head"),
                  (table_line([name for name, _, _ in COLUMNS]), "head")]
        lines += [(score_line(row, view.trend.get(row["channel"], [])), "")
                  for row in rows]
        lines += [("", ""), (blind_spots(rows, min_answers), ""), (overdue_line(rows), ""),
                  *incident_lines(view.incidents, chosen), *alert_lines(view.alerts, chosen)]
    if height is not None and len(lines) > height - 1:
        lines = [*lines[:max(0, height - 2)], ("...", "")]
    lines.append((KEYS_HELP, "head"))
    return [(text[:width] if width else text, style) for text, style in lines]
