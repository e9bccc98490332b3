"""What to generate, checked on construction so a bad CLI flag fails before any I/O.

Also where a spec's scenario shows (``incident_of``, ``blind_spot_of``) and how much
traffic a scope gets (``interactions_per_hour``), so tests, the demo and the benchmark
know where to look, and which rate to ask for, without reading the generated events.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from streams.tools.generate.tables import (
    ARRIVAL_FEEDBACK_SHARE,
    CHANNELS,
    FOLLOWUPS_PER_ARRIVAL,
    tenant_table,
)

SCENARIOS: Final[dict[str, str]] = {
    "steady": "normal traffic on every channel; scores stable, no incident",
    "incident": "first tenant's mobile_app checkout fails sharply in the middle third of the run",
    "blind-spot": "normal traffic, but the last tenant's messaging channel collects no feedback",
    "nps-drop": "first tenant's web customers answer far worse (NPS ~120 lower) at the end",
    "failure-spike": "first tenant's web checkout fails ~45% of the time at the end",
    "degraded": "first tenant's web channel: ~35% failures and worse answers at the end",
    "silent-channel": "first tenant's mobile_app collects no feedback at the end (broken widget)",
    "followup-backlog": "no follow-ups for the first tenant in the last half (run days: 48h SLA)",
}
"""Name -> what it does. "At the end": the last third of the run, at most its last 3 hours."""

TENANT_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
FOLLOWUP_SLA_SECONDS: Final = 48 * 3600
_LATEST_END: Final = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last RFC 3339 second


DEGRADED_SPAN: Final = 3 * 3600.0
"""The most a run's final degradation lasts: a few hours, what a live evaluation must catch."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TrafficSpec:
    """What to generate; validated on construction so a bad CLI flag fails before any I/O."""

    seed: int = 7
    start: float
    """Unix seconds: no event is earlier."""
    duration: float
    """Seconds of event time: every event is before ``start + duration``."""
    rate: float
    """Mean events per second of event time, all types together (approximate)."""
    scenario: str = "steady"
    tenants: tuple[str, ...] = ("acme-shop", "nordwind")
    revised: float = 0.0
    """Share of commented feedback sent as two revisions, as survey tools amend answers: the
    score alone (revision 0), then with its comment (revision 1). 0 draws nothing, so the
    traffic of a seed stays what it was."""
    degraded_span: float = DEGRADED_SPAN
    """Seconds an at-the-end scenario's degradation lasts at most; the alert bench
    lengthens it to watch a slow detection. Draws nothing."""

    def __post_init__(self) -> None:
        if isinstance(self.tenants, str) or not isinstance(self.tenants, Sequence):
            raise ValueError(f"tenants must be a sequence of tenant names, got {self.tenants!r}")
        object.__setattr__(self, "tenants", tuple(self.tenants))
        validate(self)


@dataclass(frozen=True, slots=True)
class Incident:
    """Scope and event-time window a scenario degrades, so tests and demos know where to look."""

    tenant: str
    channel: str | None
    """None: every channel of the tenant."""
    touchpoint: str | None
    """None: every touchpoint of the channel (or tenant)."""
    start: float
    end: float
    metrics: tuple[str, ...]
    """The alert metrics (``cx.alerts`` names) the scenario is built to move in its scope;
    related ones (CSAT and CES with NPS, health) may move along."""

    def covers(self, tenant: str, channel: str, touchpoint: str | None, at: float) -> bool:
        """True for an event in the incident scope with ``start <= at < end``."""
        return (self.start <= at < self.end and tenant == self.tenant
                and (self.channel is None or channel == self.channel)
                and (self.touchpoint is None or touchpoint == self.touchpoint))


DEGRADED_SPAN: Final = 3 * 3600.0
"""The most a run's final degradation lasts: a few hours, what a live evaluation must catch."""

# scenario -> (channel, touchpoint, metrics) on the first tenant
_SCOPES: Final[dict[str, tuple[str | None, str | None, tuple[str, ...]]]] = {
    "incident": ("mobile_app", "checkout", ("nps", "failure_rate")),
    "nps-drop": ("web", None, ("nps",)),
    "failure-spike": ("web", "checkout", ("failure_rate",)),
    "degraded": ("web", None, ("nps", "failure_rate")),
    "silent-channel": ("mobile_app", None, ("silent_channel",)),
    "followup-backlog": (None, None, ("followup_sla", "followup_overdue")),
}


def incident_of(spec: TrafficSpec) -> Incident | None:
    """What a spec's scenario degrades, where and when; None when nothing does.

    ``incident``: the middle third of the run. ``followup-backlog``: the last half (cases
    go overdue 48 h after they open, so only a run of several days shows the backlog).
    The others: the last third of the run, at most its last ``degraded_span``; backfilling
    a run that ends now puts them in the recent windows of a live evaluation.
    """
    scope = _SCOPES.get(spec.scenario)
    if scope is None:
        return None
    channel, touchpoint, metrics = scope
    end = spec.start + spec.duration
    if spec.scenario == "incident":
        third = spec.duration / 3
        start, end = spec.start + third, spec.start + 2 * third
    elif spec.scenario == "followup-backlog":
        start = spec.start + spec.duration / 2
    else:
        start = end - min(spec.duration / 3, spec.degraded_span)
    return Incident(spec.tenants[0], channel, touchpoint, start, end, metrics)


def blind_spot_of(spec: TrafficSpec) -> tuple[str, str] | None:
    """(tenant, channel) that gets interactions but no feedback in the blind-spot scenario."""
    return (spec.tenants[-1], "messaging") if spec.scenario == "blind-spot" else None


def interaction_share(tenants: Sequence[str], tenant: str, channel: str) -> float:
    """The expected share of all generated events that are interactions of (tenant, channel).

    From the model's tables: the tenant's weight, the channel's weight, the arrivals that
    are not feedback, and the follow-ups on top of the arrivals. Steady traffic; a
    scenario's incident scope may differ during its window (the retry storm of ``incident``).
    """
    arrivals = 1 / (1 + FOLLOWUPS_PER_ARRIVAL)
    return (arrivals * (1 - ARRIVAL_FEEDBACK_SHARE) * tenant_table(tenants).share(tenant)
            * CHANNELS.share(channel))


def interactions_per_hour(spec: TrafficSpec, tenant: str, channel: str) -> float:
    """Expected interactions per hour of event time on (tenant, channel) for a spec.

    Proportional to ``spec.rate``: the rate that gives N per hour on a scope is
    ``N / 3600 / interaction_share(tenants, tenant, channel)``.
    """
    return 3600 * spec.rate * interaction_share(spec.tenants, tenant, channel)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def validate(spec: TrafficSpec) -> None:
    """``ValueError`` naming the first field a generator could not honour."""
    if isinstance(spec.seed, bool) or not isinstance(spec.seed, int):
        raise ValueError(f"seed must be an integer, got {spec.seed!r}")
    start = _number("start", spec.start)
    duration = _number("duration", spec.duration)
    rate = _number("rate", spec.rate)
    if start < 0:
        raise ValueError(f"start must be Unix seconds >= 0, got {start!r}")
    if duration <= 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration!r}")
    if start + duration > _LATEST_END:
        raise ValueError("start + duration must not go past 9999-12-31T23:59:59Z")
    if rate <= 0:
        raise ValueError(f"rate must be > 0 events per second, got {rate!r}")
    if _number("degraded_span", spec.degraded_span) <= 0:
        raise ValueError(f"degraded_span must be > 0 seconds, got {spec.degraded_span!r}")
    revised = _number("revised", spec.revised)
    if not 0 <= revised <= 1:
        raise ValueError(f"revised must be a share from 0 to 1, got {revised!r}")
    if spec.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {spec.scenario!r}; valid scenarios: "
                         f"{', '.join(SCENARIOS)}")
    if not spec.tenants:
        raise ValueError("tenants must name at least one tenant")
    for tenant in spec.tenants:
        if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
            raise ValueError(f"tenant {tenant!r} does not match {TENANT_PATTERN.pattern}")
    if len(set(spec.tenants)) != len(spec.tenants):
        raise ValueError(f"tenants must be distinct, got {spec.tenants!r}")
