"""Synthetic omnichannel CX traffic that satisfies event contract v1 (``cxpulse generate``)."""

from streams.core.stats import needs_followup
from streams.tools.generate.model import (
    FOLLOWUP_SLA_SECONDS,
    MAX_PENDING_FOLLOWUPS,
    SCENARIOS,
    Incident,
    TrafficSpec,
    blind_spot_of,
    generate,
    incident_of,
    stamp,
)

__all__ = ["FOLLOWUP_SLA_SECONDS", "MAX_PENDING_FOLLOWUPS", "SCENARIOS", "Incident",
           "TrafficSpec", "blind_spot_of", "generate", "incident_of", "needs_followup", "stamp"]
