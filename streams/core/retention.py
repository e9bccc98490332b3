"""How long each ClickHouse table keeps its rows: one rule per table, defaults in one place.

Every table the schema files create has a rule here (``tests/core/test_retention.py``
fails on one without), either a way to forget old rows or the reason it keeps them.
``queries.retention`` carries the rules out; ``cxpulse status`` reads each table's
oldest row from the same time columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

MONTHS: Final = "months"
"""Whole monthly partitions of event time go once the month ended ``CX_RETENTION_DAYS`` ago
(unset: kept): raw events, facts, minutes and what hangs on them go together."""
AGE: Final = "age"
"""Rows whose time is older than the table's days go."""
CLOSED: Final = "closed"
"""Follow-up cases met or withdrawn (their latest version) and opened longer ago go; open
and overdue cases stay until they are met."""
RESOLVED: Final = "resolved"
"""Alert changes and incidents older than the days go, except those of an alert firing or
an incident open now."""
KEEP: Final = "keep"
"""Kept for good, for the reason given."""


@dataclass(frozen=True)
class Rule:
    column: str
    """The row's time: what its age is measured on, and the table's oldest row in status."""
    how: str
    days: int | None = None
    """The default for ``AGE``, ``CLOSED`` and ``RESOLVED`` (``CX_RETENTION`` overrides it)."""
    why: str = ""


_EVENTS = "follows CX_RETENTION_DAYS with the raw events (unset: kept)"

RULES: Final[Mapping[str, Rule]] = {
    "interactions": Rule("occurred_at", MONTHS, why=_EVENTS),
    "feedback": Rule("occurred_at", MONTHS, why=_EVENTS),
    "followups": Rule("occurred_at", MONTHS, why=_EVENTS),
    "score_facts": Rule("minute", MONTHS, why=_EVENTS),
    "score_minutes": Rule("minute", MONTHS, why=_EVENTS),
    "comment_insights": Rule("occurred_at", MONTHS, why=_EVENTS),
    "feedback_revisions": Rule("minute", MONTHS, why=_EVENTS),
    "deadletters": Rule("received_at", AGE, 30,
                        "a month to look at, fix and replay what was rejected"),
    "notifications": Rule("sent_at", AGE, 90,
                          "longer than CX_MAX_EVENT_AGE_DAYS: a replayed event still finds "
                          "its record and sends nothing twice"),
    "followup_cases": Rule("opened_at", CLOSED, 180,
                           "met and withdrawn cases after half a year; open ones never"),
    "alerts": Rule("at", RESOLVED, 365, "a year of alert history; a firing alert keeps all"),
    "incidents": Rule("updated_at", RESOLVED, 365,
                      "a year of resolved incidents; open ones stay"),
    "score_hours": Rule("hour", KEEP, why="trends outlive the detail: windows older than the "
                        "raw events stay exact to the hour (a row per scope and hour)"),
    "score_days": Rule("day", KEEP, why="long trends (a row per scope and day)"),
    "api_keys": Rule("created_at", KEEP,
                     why="a few rows per tenant; a revoked key's row is what keeps it revoked"),
    "erasures": Rule("erased_at", KEEP, why="the audit that proves a customer was erased"),
    "schema_migrations": Rule("applied_at", KEEP, why="which migrations ran"),
    "schema_migration_steps": Rule("applied_at", KEEP,
                                   why="what ran of each migration: a killed one resumes"),
}
"""Every table of the schema, by name (``schema_migrations`` and ``schema_migration_steps``
are ``warehouse.migrate``'s)."""

SETTABLE: Final = tuple(table for table, rule in RULES.items()
                        if rule.how in (AGE, CLOSED, RESOLVED))
"""The tables whose days ``CX_RETENTION`` may set."""


def parse_overrides(raw: str) -> dict[str, int | None]:
    """``CX_RETENTION``: ``table=days`` pairs, comma-separated; ``off`` keeps a table's rows.

    Raises ValueError naming the table or value we cannot use.
    """
    found: dict[str, int | None] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        table, _, value = (piece.strip() for piece in part.partition("="))
        rule = RULES.get(table)
        if rule is None or table not in SETTABLE:
            why = f"not set here: {rule.how}, {rule.why}" if rule else "no such table"
            raise ValueError(f"{table!r}: {why} (the tables set here: {', '.join(SETTABLE)})")
        if value.lower() == "off":
            found[table] = None
            continue
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{table}: expected whole days >= 1 or off, got {value!r}")
        found[table] = int(value)
    return found


def days_per_table(overrides: Mapping[str, int | None], event_days: int | None
                   ) -> dict[str, int | None]:
    """Each table's retention in days, None where rows are kept: the defaults, ``overrides``
    (``CX_RETENTION``) and ``event_days`` (``CX_RETENTION_DAYS``) for the ``MONTHS`` tables."""
    chosen: dict[str, int | None] = {}
    for table, rule in RULES.items():
        if rule.how == MONTHS:
            chosen[table] = event_days
        elif rule.how == KEEP:
            chosen[table] = None
        else:
            chosen[table] = overrides.get(table, rule.days)
    return chosen
