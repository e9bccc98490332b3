"""What to generate, checked on construction so a bad CLI flag fails before any I/O.

Also where a spec's scenario shows (``incident_of``, ``blind_spot_of``), so tests
and the demo know where to look without reading the generated events.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

SCENARIOS: Final[dict[str, str]] = {
    "steady": "normal traffic on every channel; scores stable, no incident",
    "incident": "first tenant's mobile_app checkout fails sharply in the middle third of the run",
    "blind-spot": "normal traffic, but the last tenant's messaging channel collects no feedback",
}

TENANT_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
FOLLOWUP_SLA_SECONDS: Final = 48 * 3600
_LATEST_END: Final = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last RFC 3339 second


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

    def __post_init__(self) -> None:
        if isinstance(self.tenants, str) or not isinstance(self.tenants, Sequence):
            raise ValueError(f"tenants must be a sequence of tenant names, got {self.tenants!r}")
        object.__setattr__(self, "tenants", tuple(self.tenants))
        validate(self)


@dataclass(frozen=True, slots=True)
class Incident:
    """Scope and event-time window a scenario degrades, so tests and demos know where to look."""

    tenant: str
    channel: str
    touchpoint: str
    start: float
    end: float

    def covers(self, tenant: str, channel: str, touchpoint: str | None, at: float) -> bool:
        """True for an event in the incident scope with ``start <= at < end``."""
        return (self.start <= at < self.end and tenant == self.tenant
                and channel == self.channel and touchpoint == self.touchpoint)


def incident_of(spec: TrafficSpec) -> Incident | None:
    """The incident a spec produces: the whole middle third of the run, or None."""
    if spec.scenario != "incident":
        return None
    third = spec.duration / 3
    return Incident(spec.tenants[0], "mobile_app", "checkout", spec.start + third,
                    spec.start + 2 * third)


def blind_spot_of(spec: TrafficSpec) -> tuple[str, str] | None:
    """(tenant, channel) that gets interactions but no feedback in the blind-spot scenario."""
    return (spec.tenants[-1], "messaging") if spec.scenario == "blind-spot" else None


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
