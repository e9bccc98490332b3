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
from streams.core.attribution import attribute
from streams.core.drops import Comparison, DetectorConfig, judge
from streams.core.incidents import OPEN, Incident, document, incidents
from streams.core.stats import ALL, MINUTE_MS
from streams.core.summaries import summarize
from streams.core.units import format_window
from streams.queries.alerting import live_comparisons, newest_minute, recorded
from streams.queries.incidents import evidence, record, stored
from streams.warehouse import Warehouse
from streams.worker import metrics

FRESH_MS = 15 * 60_000
"""A pass needs statistics this close to its end."""
KEEP_S = 7 * 86400
"""How far back a pass compares incidents with the stored ones (as ``recorded`` reads)."""


def message(change: Change) -> tuple[bytes, bytes]:
    """The cx.alerts message of a change: keyed by the alert, the row as JSON."""
    return "|".join(change.key).encode(), orjson.dumps(change.as_dict())


def open_labels(changes: list[Change], found: list[Incident]) -> set[tuple[str, ...]]:
    """``cx_alert_active`` label values of the alerts these changes leave open, each with
    the id of the incident it belongs to (``found``: the incidents of the same changes), so
    Alertmanager holds back the alerts of an incident that is notified as one."""
    owner = {e.key: i.id for i in found for e in i.episodes if e.resolved_at is None}
    return {(*key, opened.severity, owner.get(key, ""))
            for key, opened in state_of(changes).open.items()}


def incident_labels(found: list[Incident]) -> set[tuple[str, ...]]:
    """``cx_incident_active`` label values of the open incidents."""
    return {(i.tenant, i.id, i.channel, i.touchpoint, i.primary_metric, i.severity)
            for i in found if i.state == OPEN}


Details = tuple[dict | None, dict | None]
"""An incident's (attribution, evidence) documents."""


@dataclass(frozen=True, slots=True)
class Grouped:
    """One pass's incidents: all of them, the new versions to publish and record, and the
    attribution and evidence of those and of every open one (what their summaries say)."""

    found: list[Incident]
    fresh: list[Incident]
    details: dict[str, Details]

    def document(self, incident: Incident) -> dict:
        """The incident as JSON with its summary: a ``cx.incidents`` message's value."""
        item = document(incident.as_dict(), *self.details.get(incident.id, (None, None)))
        told = summarize(item)
        return item | {"summary": told.head, "text": told.text}

    def messages(self) -> list[tuple[bytes, bytes]]:
        """The ``cx.incidents`` messages of the new versions, keyed by tenant|id."""
        return [(f"{i.tenant}|{i.id}".encode(), orjson.dumps(self.document(i)))
                for i in self.fresh]

    def info(self) -> set[tuple[str, ...]]:
        """``cx_incident_info`` label values: tenant, id, summary, description of the open
        incidents (the summary says since when)."""
        out = set()
        for incident in self.found:
            if incident.state == OPEN:
                item = self.document(incident)
                out.add((incident.tenant, incident.id,
                         f"{item['summary']}, since {item['opened_at']}", item["text"]))
        return out


@dataclass(frozen=True, slots=True)
class Judged:
    """One pass: its changes, the recorded changes it started from, what it compared."""

    changes: list[Change]
    history: list[Change]
    comparisons: list[Comparison]
    end_ms: int


def attribution_of(incident: Incident, comparisons: list[Comparison],
                   config: DetectorConfig) -> dict | None:
    """The split of the first attributable metric of the incident (the primary's first),
    in the primary's window of this pass, over the incident's scope; None when there is
    none or the metric is recovering (then the pass keeps the split it stored before)."""
    windows = {format_window(w): w for w in config.windows_ms}
    window_ms = windows.get(incident.episodes[0].window if incident.episodes else "",
                            config.windows_ms[0])
    leaves = {c.scope[1:]: (c.recent.stats, c.baseline.stats) for c in comparisons
              if c.window_ms == window_ms and c.scope[0] == incident.tenant
              and ALL not in c.scope[1:]}
    for metric in (incident.primary_metric, *incident.metrics):
        found = attribute(metric, incident.scope, leaves)
        if found is not None:
            return found.as_dict() if found.worse else None
    return None


def stronger(kept: dict | None, fresh: dict | None) -> dict | None:
    """The split of the larger change of the same scope: an incident is explained at its
    worst, not late in a long one when the baseline has taken in part of it and what is
    left is noise. An incident that grew to a wider scope takes the split of that scope."""
    if fresh is None:
        return kept
    if kept is None or _where(kept) != _where(fresh) or abs(fresh["change"]) > abs(
            kept["change"]):
        return fresh
    return kept


def _where(split: dict) -> tuple[str, str, str]:
    return split.get("metric", ""), split.get("channel", ""), split.get("touchpoint", "")


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

    def judge(self, warehouse: Warehouse, now_ms: int) -> Judged | None:
        """The changes of this pass, with the recorded changes it started from.

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
        return Judged(changes, history, comparisons, end_ms)

    def group(self, warehouse: Warehouse, judged: Judged) -> Grouped:
        """Group the alerts into incidents: the versions not recorded yet, and the details.

        Recomputed from the recorded changes at every pass and compared with the
        stored versions, so a pass that failed to publish or record is made good by the
        next, and a new leader carries on with the same ids and summaries.
        An open incident gets its evidence at this pass and its attribution when this
        pass sees a larger worsening than the one stored (``stronger``); a resolved one
        keeps those it had.
        """
        found = incidents(judged.history + judged.changes)
        end_s = judged.end_ms // 1000
        kept = stored(warehouse, since_s=end_s - KEEP_S)
        fresh = [i for i in found if kept.get(i.id, (-1, None, None))[0] < i.version]
        details = {i.id: kept[i.id][1:] for i in found if i.state == OPEN and i.id in kept}
        for incident in fresh:
            _, attribution, proof = kept.get(incident.id, (-1, None, None))
            if incident.state == OPEN or attribution is None:
                attribution = stronger(attribution, attribution_of(
                    incident, judged.comparisons, self.config))
                cause = attribution["cause"] if attribution else {}
                scope = (incident.tenant, cause.get("channel", incident.channel),
                         cause.get("touchpoint", incident.touchpoint))
                window_s = max(self.config.windows_ms) // 1000
                proof = evidence(warehouse, scope, start_s=incident.opened_at - window_s,
                                 end_s=end_s)
            details[incident.id] = (attribution, proof)
        return Grouped(found, fresh, details)

    def incidents(self, warehouse: Warehouse, judged: Judged) -> list[Incident]:
        """``group``, then record the new versions (the worker publishes in between)."""
        grouped = self.group(warehouse, judged)
        record(warehouse, grouped.fresh, grouped.details)
        return grouped.found
