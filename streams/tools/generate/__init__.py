"""Synthetic omnichannel CX traffic that satisfies event contract v1 (``cxpulse generate``).

``spec`` says what to generate, ``tables`` holds the traffic model's weights,
``model`` builds and orders the events.
"""

from streams.core.stats import needs_followup
from streams.tools.generate.model import (
    FOLLOWUP_SLA_SECONDS,
    MAX_PENDING_FOLLOWUPS,
    generate,
    stamp,
)
from streams.tools.generate.spec import (
    DEGRADED_SPAN,
    SCENARIOS,
    Incident,
    TrafficSpec,
    blind_spot_of,
    incident_of,
    interaction_share,
    interactions_per_hour,
)

__all__ = ["DEGRADED_SPAN", "FOLLOWUP_SLA_SECONDS", "MAX_PENDING_FOLLOWUPS", "SCENARIOS",
           "Incident", "TrafficSpec", "blind_spot_of", "generate", "incident_of",
           "interaction_share", "interactions_per_hour", "needs_followup", "stamp"]
