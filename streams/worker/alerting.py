"""The leader's alert pass: read score_minutes, judge, publish and record the changes.

The state of open alerts lives in ``cx.alerts``, read at every pass, so a new
leader carries on where the old one stopped: an open alert is neither fired
again nor forgotten. A pass waits until ingest has settled everything up to
the evaluation's end (``IngestService.settled_until``): a backlog still being
caught up would look like a silent channel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from streams.core.alerts import Change, state_of, step
from streams.core.drops import DetectorConfig, judge
from streams.core.stats import MINUTE_MS
from streams.queries.alerting import live_comparisons, newest_minute, recorded
from streams.warehouse import Warehouse
from streams.worker import metrics

FRESH_MS = 15 * 60_000
"""A pass needs statistics this close to its end."""


def message(change: Change) -> tuple[bytes, bytes]:
    """The cx.alerts message of a change: keyed by the alert, the row as JSON."""
    return "|".join(change.key).encode(), orjson.dumps(change.as_dict())


def open_labels(changes: list[Change]) -> set[tuple[str, ...]]:
    """``cx_alert_active`` label values of the alerts these changes leave open."""
    return {(*key, opened.severity) for key, opened in state_of(changes).open.items()}


@dataclass(frozen=True, slots=True)
class AlertPass:
    """One evaluation at a time ``now``; blocking, so the worker runs it in a thread."""

    config: DetectorConfig
    deadline_ms: int
    delay_ms: int

    def end_of(self, now_ms: int) -> int:
        """The evaluation's end: ``now - delay`` floored to the minute."""
        end = now_ms - self.delay_ms
        return end - end % MINUTE_MS

    def judge(self, warehouse: Warehouse, now_ms: int
              ) -> tuple[list[Change], list[Change]] | None:
        """(the changes of this pass, the recorded changes it started from).

        None when the newest statistics are older than ``FRESH_MS`` before the end:
        ingest is still catching up (a partial backlog would look like silence), or
        no traffic at all, which the pipeline's own alerts report.
        """
        started = time.monotonic()
        end_ms = self.end_of(now_ms)
        if newest_minute(warehouse, end_ms - FRESH_MS) is None:
            return None
        history = recorded(warehouse)
        comparisons, backlogs = live_comparisons(warehouse, end_ms, self.config,
                                                 self.deadline_ms)
        changes = step(state_of(history), judge(comparisons, backlogs, self.config),
                       end_ms // 1000, self.config)
        metrics.ALERT_PASS_SECONDS.observe(time.monotonic() - started)
        metrics.ALERT_SCOPES.set(len(comparisons) // max(1, len(self.config.windows_ms)))
        return changes, history
