"""``cxpulse top``'s screen as pure functions: cells, sparkline, keys and layout."""

from __future__ import annotations

from typing import Any

import pytest

from streams.cli.screen import (
    BLOCKS,
    COLUMNS,
    KEYS_HELP,
    NO_DATA,
    State,
    View,
    alert_lines,
    blind_spots,
    incident_lines,
    interval,
    nps_cell,
    on_key,
    overdue_line,
    score_line,
    screen,
    sparkline,
    table_line,
)
from streams.core.stats import ALL, COMMENT_THEMES

TENANTS = ["acme-shop", "nordwind", "sakura"]


def row(tenant: str = "acme-shop", channel: str = "web", **values: Any) -> dict[str, Any]:
    base = {"tenant": tenant, "channel": channel, "touchpoint": ALL, "nps": 12.34,
            "nps_moe": 8.16, "nps_n": 295, "csat": 74.3, "csat_low": 70.12, "csat_high": 78.04,
            "csat_n": 120, "ces": 5.55, "ces_low": 5.31, "ces_high": 5.79, "ces_n": 80,
            "response_rate": 0.195, "failure_rate": 0.102, "followup_sla": 0.85,
            "followup_due": 20, "followup_overdue": 3, "interactions": 1500, "feedback": 290,
            "health": 73.84, "sentiment": -0.214, "sentiment_n": 88, "negative_share": 0.41,
            **{f"theme_{theme}": 0.0 for theme in COMMENT_THEMES}, "theme_delivery": 0.345,
            "theme_payment": 0.2}
    return base | values


def alert(tenant: str = "acme-shop", channel: str = "web") -> dict[str, Any]:
    return {"tenant": tenant, "channel": channel, "touchpoint": ALL, "metric": "failure_rate",
            "severity": "critical", "at": "2026-11-23T14:31:00Z",
            "reason": "failure_rate rose from 0.032 to 0.361 over 1h"}


def test_sparkline_scales_to_the_series_and_marks_missing_buckets() -> None:
    assert sparkline([0, 50, 100]) == BLOCKS[0] + BLOCKS[4] + BLOCKS[-1]
    assert sparkline([None, 80, None, 40]) == NO_DATA + BLOCKS[-1] + NO_DATA + BLOCKS[0]
    assert sparkline([None] * 3) == NO_DATA * 3
    assert sparkline([]) == ""
    flat = sparkline([70.0, 70.5, 69.8, 70.2])  # noise on a flat line stays flat
    assert len(set(flat)) <= 2 and set(flat) <= set(BLOCKS[3:5]), flat
    assert sparkline([70, 75], min_span=5) == BLOCKS[0] + BLOCKS[-1]


def test_cells_show_intervals_and_dashes_without_data() -> None:
    assert nps_cell(row()) == "12.3 ±8.2"
    assert nps_cell(row(nps=None, nps_moe=None)) == "-"
    assert interval(74.3, 70.12, 78.04, 1) == "74.3 [70-78]"
    assert interval(5.55, 5.31, 5.79, 2) == "5.55 [5.3-5.8]"
    assert interval(None, None, None, 2) == "-"
    assert interval(5.0, None, None, 2) == "5.00"  # one CES answer: no interval, no crash


def test_a_score_line_lays_its_cells_in_the_columns() -> None:
    line = score_line(row(), [60.0, None, 80.0])
    header = table_line([name for name, _, _ in COLUMNS])
    assert line.startswith("web ") and header.startswith("channel ")
    for cell in ("73.8", BLOCKS[0] + NO_DATA + BLOCKS[-1], "12.3 ±8.2", "295",
                 "74.3 [70-78]", "5.55 [5.3-5.8]", "19.5", "10.2", "85.0", "-0.21",
                 "delivery 34%"):
        assert cell in line, (cell, line)
    # right-aligned cells end where their heading ends
    assert line.index("295") + 3 == header.index("NPS ±moe") + len("NPS ±moe") + 6
    assert line.endswith(" 3")
    empty = score_line(row(channel=ALL, nps=None, nps_moe=None, nps_n=0, csat=None, csat_n=0,
                           ces=None, ces_n=0, response_rate=None, failure_rate=None,
                           followup_sla=None, followup_overdue=0, health=None, sentiment=None,
                           theme_delivery=0.0, theme_payment=0.0), [])
    assert empty.startswith("all ") and "±" not in empty and "[" not in empty
    assert "%" not in empty and "+" not in empty
    assert table_line(["a-very-long-channel-name", *[""] * (len(COLUMNS) - 1)]) == "a-very-long"


@pytest.mark.parametrize(("key", "start", "want"), [
    ("t", None, "nordwind"), ("RIGHT", "sakura", "acme-shop"), ("T", "acme-shop", "sakura"),
    ("LEFT", "nordwind", "acme-shop"), ("3", None, "sakura"), ("9", "nordwind", "nordwind"),
    ("x", "nordwind", "nordwind"), ("t", "gone", "nordwind"),
])
def test_keys_pick_the_tenant(key: str, start: str | None, want: str) -> None:
    state = on_key(State(tenant=start), key, TENANTS)
    assert state is not None and state.chosen(TENANTS) == want


def test_w_cycles_the_window_and_q_quits() -> None:
    state = State()
    seen = []
    for _ in range(4):
        state = on_key(state, "w", TENANTS)
        seen.append(state.window)
    assert seen == ["24h", "7d", "1h", "24h"]
    assert on_key(state, "q", TENANTS) is None
    assert on_key(State(), "t", []) == State()


def test_blind_spots_overdue_and_alerts_lines() -> None:
    rows = [row(channel=ALL, followup_overdue=5, followup_due=30),
            row(channel="voice", feedback=2, interactions=150, followup_overdue=5),
            row(channel="web", followup_overdue=0), row(channel="store", interactions=0,
                                                        feedback=0)]
    assert blind_spots(rows, 5) == ("blind spots (< 5 answers): voice (2 answers / 150 "
                                    "interactions)")
    assert blind_spots(rows[2:], 5).endswith("none")
    assert overdue_line(rows) == "overdue follow-ups: 8 of 60 due (voice 5, store 3)"
    assert overdue_line(rows[2:3]) == "overdue follow-ups: none (20 came due in the window)"
    lines = alert_lines([alert(), alert("nordwind")], "acme-shop")
    assert lines[0] == ("alerts firing: 1", "head")
    assert "critical web/*" in lines[1][0] and "since 14:31" in lines[1][0]
    assert lines[1][0].endswith("over 1h") and lines[1][1] == "alert"
    assert lines[2][0] == "  + 1 firing for other tenants"
    assert alert_lines([], "acme-shop") == [("alerts firing: none", "")]


def incident(tenant: str = "acme-shop") -> dict[str, Any]:
    """An open incident as ``cxpulse incidents --open --json`` lists it."""
    return {"tenant": tenant, "id": "5f1c0a7e9b2d4c6a", "channel": "web", "touchpoint": ALL,
            "state": "open", "severity": "critical", "primary_channel": "web",
            "primary_touchpoint": "checkout", "primary_metric": "failure_rate",
            "primary_at": "2026-11-23T14:07:00Z", "metrics": ["csat", "failure_rate", "nps"],
            "alerts": 3, "opened_at": "2026-11-23T14:07:00Z", "updated_at": "2026-11-23T14:20:00Z",
            "resolved_at": None, "version": 4,
            "attribution": {"metric": "failure_rate", "channel": "web", "touchpoint": ALL,
                            "value": 0.361, "baseline": 0.032, "change": 0.329,
                            "cause": {"channel": "web", "touchpoint": "checkout", "share": 0.92},
                            "summary": "checkout explains 92% of the rise in web failure_rate",
                            "surges": []},
            "evidence": {"comments": [], "cases": 3, "customers": 40}}


def test_open_incidents_one_line_each_above_the_alerts() -> None:
    lines = incident_lines([incident(), incident("nordwind")], "acme-shop")
    assert lines == [
        ("incidents open: 1", "head"),
        ("  critical acme-shop: checkout explains 92% of the rise in web failure_rate "
         "(0.032 → 0.361)  since 14:07", "alert")]
    assert incident_lines([incident("nordwind")], "acme-shop") == []
    text = [t for t, _ in screen(view(incidents=[incident()]), State(), source="s",
                                 min_answers=5)]
    at = text.index("incidents open: 1")
    assert text[at + 1].startswith("  critical acme-shop: checkout explains 92%")
    assert text[at + 2] == "alerts firing: 1"


def view(**values: Any) -> View:
    rows = [row(channel=ALL), row(), row(channel="voice", feedback=1),
            row("nordwind", ALL), row("nordwind")]
    return View(**{"window": "1h", "end": "2026-11-23T14:32:00Z", "rows": rows,
                   "trend": {"web": [70.0, 40.0], ALL: [None, 60.0]},
                   "alerts": [alert()]} | values)


def test_the_screen_shows_the_chosen_tenant() -> None:
    lines = screen(view(), State(), source="clickhouse://x", min_answers=5, clock=0)
    text = [line for line, _ in lines]
    assert text[0] == "CX Pulse top · clickhouse://x · 00:00:00 UTC"
    assert text[1] == "tenants: [1 acme-shop !1]  2 nordwind"
    assert text[2].startswith("acme-shop · window 1h ending 2026-11-23T14:32:00Z")
    assert text[3].startswith("channel")
    assert [t.split()[0] for t in text[4:7]] == ["all", "web", "voice"]
    assert BLOCKS[-1] + BLOCKS[0] in text[5] and NO_DATA in text[4]
    assert "blind spots (< 5 answers): voice (1 answers / 1500 interactions)" in text
    assert text[-1] == KEYS_HELP and lines[-1][1] == "head"
    other = [line for line, _ in screen(view(), State("nordwind"), source="s", min_answers=5)]
    assert other[1] == "tenants:  1 acme-shop !1  [2 nordwind]"
    assert "alerts firing: none" in other and "  + 1 firing for other tenants" in other


def test_the_screen_fits_the_terminal_and_says_when_there_is_nothing() -> None:
    small = screen(view(), State(), source="s", min_answers=5, width=30, height=8)
    assert len(small) == 8 and all(len(line) <= 30 for line, _ in small)
    assert small[-2][0] == "..." and small[-1][0] == KEYS_HELP[:30]
    empty = [t for t, _ in screen(view(rows=[], alerts=[]), State(window="7d"), source="s",
                                  min_answers=5, error="cannot reach ClickHouse",
                                  notes=["landed: 0"])]
    assert empty[1:4] == ["landed: 0", "error: cannot reach ClickHouse (retrying)",
                          "no scores yet in the last 7d (window ending 2026-11-23T14:32:00Z): "
                          "waiting for data"]
    first = [t for t, _ in screen(None, State(), source="s", min_answers=5)]
    assert first[1] == "waiting for the first scores ..."
