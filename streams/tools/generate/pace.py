"""Live traffic in real time: each event released when its event time comes.

Shared by ``cxpulse generate`` (to Kafka) and the demo's feeder (to a collector).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from streams.core.contract import parse_timestamp


async def paced(events: Iterable[dict[str, Any]],
                speed: float | None) -> AsyncIterator[dict[str, Any]]:
    """Release each event when its event time comes (``speed`` x real time), or at once."""
    origin_wall = time.monotonic()
    origin_event: float | None = None
    for event in events:
        if speed:
            at = parse_timestamp(event["occurred_at"])[0] / 1000
            origin_event = at if origin_event is None else origin_event
            delay = (at - origin_event) / speed - (time.monotonic() - origin_wall)
            if delay > 0:
                await asyncio.sleep(delay)
        yield event
