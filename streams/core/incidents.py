"""Incidents: alerts that belong together, grouped from the alert changes alone. No I/O.

One problem (a failing checkout) moves several metrics at several scopes within
minutes. An incident is one such problem: alerts of one tenant whose scopes are
nested or overlap and whose open spans overlap in time.

The rule, applied to the alert changes in order of time (so replays, any input
order and a new leader give the same incidents, ids and versions):

- each firing of a key opens an *episode* (later firings of the open key are
  escalations of it); a resolution ends it, inclusive of its instant;
- an episode joins the earliest-opened incident of its tenant that is open at its
  firing instant and holds a related scope; otherwise it opens a new incident;
- two scopes are related when one contains the other or both lie in one channel
  (two touchpoints overlap through the channel rollup);
- so a key that fires again while its incident is still open extends it, and one
  that fires again after the whole incident resolved opens a new incident.

Incidents never merge, so an id, once given, stays: it is derived from the
tenant and the primary signal (the earliest firing; ties: critical first, then
the likelier cause: the service's own signals, failures and silence, before what
customers answered or wrote, and the health index, made of both, last; then the
smallest p-value, then the key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from streams.core.alerts import ALERT_COLUMNS, FIRING, RESOLVED, Change
from streams.core.drops import SILENT, AlertKey
from streams.core.stats import ALL, Scope
from streams.core.units import format_time

OPEN: Final = "open"
INCIDENT_COLUMNS: Final = ("tenant", "id", "channel", "touchpoint", "state", "severity",
                           "primary_channel", "primary_touchpoint", "primary_metric",
                           "primary_at", "metrics", "alerts", "opened_at", "updated_at",
                           "resolved_at", "version")
"""``cx.incidents``: one row per incident version (the table keeps the highest)."""
TIMES: Final = ("primary_at", "opened_at", "updated_at", "resolved_at")
"""Columns holding times (epoch seconds in an ``Incident``, RFC 3339 in its document)."""
_SEVERITY_RANK: Final = {"critical": 0, "warning": 1}
_CAUSE_RANK: Final = {"failure_rate": 0, SILENT: 0, "health": 2}
"""At one instant, which metric leads (others 1): a failing checkout also drags its CSAT
and the health index down, and the big samples of those can give them smaller p-values."""


@dataclass(slots=True)
class Episode:
    """One key from a firing to its resolution (``resolved_at`` None while open)."""

    key: AlertKey
    fired_at: int
    severity: str
    p_value: float | None
    resolved_at: int | None = None
    changes: int = 1
    updated_at: int = 0
    window: str = ""
    """The recent window its firing alarmed in, e.g. ``1h``."""

    @property
    def scope(self) -> Scope:
        return self.key[:3]

    def open_at(self, at: int) -> bool:
        return self.fired_at <= at and (self.resolved_at is None or at <= self.resolved_at)


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident as stored; ``episodes`` (its alerts) is for callers, not a column."""

    tenant: str
    id: str
    channel: str
    touchpoint: str
    """The most specific scope covering every alert of the incident."""
    state: str
    severity: str
    primary_channel: str
    primary_touchpoint: str
    primary_metric: str
    primary_at: int
    metrics: tuple[str, ...]
    alerts: int
    """Alert episodes (firings of a key that were not escalations)."""
    opened_at: int
    updated_at: int
    resolved_at: int | None
    version: int
    """Alert changes in the incident: grows with every change, the same under replays."""
    episodes: tuple[Episode, ...] = field(default=(), compare=False, repr=False)

    @property
    def scope(self) -> Scope:
        return self.tenant, self.channel, self.touchpoint

    def row(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in INCIDENT_COLUMNS)

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in INCIDENT_COLUMNS}
        out["metrics"] = list(self.metrics)
        return out


def related(a: Scope, b: Scope) -> bool:
    """Same tenant, and nested or in one channel (through the channel rollup)."""
    return a[0] == b[0] and (a[1] == b[1] or ALL in (a[1], b[1]))


def covering(scopes: Iterable[Scope]) -> Scope:
    """The most specific scope containing every given scope (all of one tenant)."""
    scopes = list(scopes)
    tenant = scopes[0][0]
    channels = {s[1] for s in scopes}
    if len(channels) > 1:
        return tenant, ALL, ALL
    touchpoints = {s[2] for s in scopes}
    return tenant, channels.pop(), touchpoints.pop() if len(touchpoints) == 1 else ALL


def incident_id(tenant: str, key: AlertKey, fired_at: int) -> str:
    """Stable id from the tenant and the primary signal's scope, metric and firing time."""
    text = "\x1f".join((tenant, *key[1:], str(fired_at)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def change_of(row: Mapping[str, Any]) -> Change:
    """An alert change from a stored row (``cx.alerts`` columns); bad rows raise ValueError."""
    missing = [name for name in ALERT_COLUMNS if name not in row]
    if missing:
        raise ValueError(f"alert row lacks {', '.join(missing)}")
    if row["state"] not in (FIRING, RESOLVED):
        raise ValueError(f"alert state must be {FIRING} or {RESOLVED}, got {row['state']!r}")
    return Change(**{name: row[name] for name in ALERT_COLUMNS})


def _order(change: Change) -> tuple[Any, ...]:
    """Time, then resolutions before firings (a pass resolves and fires at one instant,
    and an episode is open through its resolution instant either way), then the primary
    signal's ties (see the module rule)."""
    return (change.at, change.state == FIRING, _SEVERITY_RANK.get(change.severity, 2),
            _CAUSE_RANK.get(change.key[3], 1),
            change.p_value if change.p_value is not None else 1.0, change.key)


def episodes(changes: Iterable[Change]) -> list[Episode]:
    """Alert episodes in order of firing; duplicate changes (replays) count once."""
    unique = {(c.key, c.state, c.at): c for c in changes}
    open_: dict[AlertKey, Episode] = {}
    out: list[Episode] = []
    for change in sorted(unique.values(), key=_order):
        current = open_.get(change.key)
        if change.state == FIRING:
            if current is None:
                current = Episode(change.key, change.at, change.severity, change.p_value,
                                  updated_at=change.at, window=change.window)
                open_[change.key] = current
                out.append(current)
            else:
                current.changes += 1
                current.updated_at = change.at
                if _SEVERITY_RANK.get(change.severity, 2) < _SEVERITY_RANK.get(
                        current.severity, 2):
                    current.severity = change.severity
        elif current is not None:
            current.resolved_at = change.at
            current.updated_at = change.at
            current.changes += 1
            del open_[change.key]
    return out


def _incident(members: list[Episode]) -> Incident:
    primary = members[0]
    tenant = primary.key[0]
    scope = covering(e.scope for e in members)
    resolved = None if any(e.resolved_at is None for e in members) else max(
        e.resolved_at for e in members if e.resolved_at is not None)
    return Incident(
        tenant=tenant, id=incident_id(tenant, primary.key, primary.fired_at),
        channel=scope[1], touchpoint=scope[2],
        state=OPEN if resolved is None else RESOLVED,
        severity=min((e.severity for e in members), key=lambda s: _SEVERITY_RANK.get(s, 2)),
        primary_channel=primary.key[1], primary_touchpoint=primary.key[2],
        primary_metric=primary.key[3], primary_at=primary.fired_at,
        metrics=tuple(sorted({e.key[3] for e in members})), alerts=len(members),
        opened_at=primary.fired_at, updated_at=max(e.updated_at for e in members),
        resolved_at=resolved, version=sum(e.changes for e in members),
        episodes=tuple(members))


def incidents(changes: Iterable[Change]) -> list[Incident]:
    """Every incident the alert changes make, in order of opening (see the module rule)."""
    groups: list[list[Episode]] = []
    for episode in episodes(changes):
        for members in groups:
            if any(e.open_at(episode.fired_at) and related(e.scope, episode.scope)
                   for e in members):
                members.append(episode)
                break
        else:
            groups.append([episode])
    return [_incident(members) for members in groups]


def changed(previous: Iterable[Incident], current: Iterable[Incident]) -> list[Incident]:
    """Incidents of ``current`` that are new or at a higher version than in ``previous``:
    the rows one pass writes."""
    known = {i.id: i.version for i in previous}
    return [i for i in current if known.get(i.id, -1) < i.version]


def document(values: Mapping[str, Any], attribution: Mapping[str, Any] | None,
             evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    """An incident version as JSON, times in RFC 3339: one shape for the ``cx.incidents``
    topic, ``cxpulse incidents --json`` and ``/v1/incidents``. ``values``: the
    ``INCIDENT_COLUMNS`` (an ``Incident.as_dict()`` or a stored row, times in epoch s)."""
    item = {column: values[column] for column in INCIDENT_COLUMNS}
    item["metrics"] = list(values["metrics"])
    for column in TIMES:
        value = values[column]
        item[column] = None if value is None else format_time(int(value) * 1000, millis=False)
    item["alerts"], item["version"] = int(values["alerts"]), int(values["version"])
    item["attribution"] = dict(attribution) if attribution else None
    item["evidence"] = dict(evidence) if evidence else None
    return item
