"""The leader's timers: alert evaluation, retention and score snapshots.

Every ingest worker runs them, but only the leader of Faust's election acts, so alerts are
judged, months dropped and scores published once for the whole cluster.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import faust
import orjson

from streams.config import Settings
from streams.core.contract import ALERTS_TOPIC, INCIDENTS_TOPIC, SCORES_TOPIC
from streams.core.incidents import incidents
from streams.dependencies import about_failure
from streams.queries.alerting import record as record_alerts
from streams.queries.incidents import record as record_incidents
from streams.queries.retention import prune
from streams.queries.snapshots import snapshot
from streams.warehouse import LazyWarehouse
from streams.worker import metrics
from streams.worker.alerting import AlertPass, Grouped, incident_labels, message, open_labels
from streams.worker.gauges import clear_gauges, publish_gauges, show_alerts, show_incidents
from streams.worker.ingest import IngestService
from streams.worker.sink import Publish

log = logging.getLogger(__name__)


def add_leader(app: faust.App, settings: Settings, reader: LazyWarehouse,
               weights: Mapping[str, float], publish: Publish, ingest: IngestService) -> None:
    """The three timers, in this order: alerts, retention, snapshots."""
    add_alerts(app, settings, reader, publish, ingest)
    add_retention(app, settings, reader)
    add_snapshots(app, settings, reader, weights)


def add_alerts(app: faust.App, settings: Settings, reader: LazyWarehouse, publish: Publish,
               ingest: IngestService) -> None:
    """Every CX_ALERT_SECONDS the leader judges score drops and groups them in incidents."""
    alert_pass = AlertPass(settings.detector(), settings.followup_deadline_ms,
                           int(settings.alert_delay * 1000))

    @app.timer(settings.alert_seconds)
    async def evaluate_alerts() -> None:
        """The leader judges score drops; changes go to cx.alerts (topic, then table), the
        incidents they make to cx.incidents (topic, then table).

        Published before recorded: a crash in between fires the change again (the
        same key) rather than losing it. Waits while ingest catches up. The alert and
        incident gauges change together, after both, so a scrape sees an alert with its
        incident (Alertmanager holds back the alerts of a notified incident).
        """
        if not app.is_leader():
            return
        now_ms = int(time.time() * 1000)
        if ingest.settled_until * 1000 < alert_pass.end_of(now_ms):
            metrics.ALERT_PASSES.labels("waiting").inc()
            return
        try:
            judged = await asyncio.to_thread(alert_pass.judge, reader.get(), now_ms)
            if judged is None:
                metrics.ALERT_PASSES.labels("waiting").inc()
                return
            changes, history = judged.changes, judged.history
            await publish(ALERTS_TOPIC, [message(change) for change in changes])
            await asyncio.to_thread(record_alerts, reader.get(), changes)
        except Exception as error:
            metrics.ALERT_PASSES.labels("failed").inc()
            log.warning("alert pass skipped: %s: %s", type(error).__name__, error,
                        extra=about_failure(error, "alert pass"))
            return
        grouped: Grouped | None = None
        try:
            grouped = await asyncio.to_thread(alert_pass.group, reader.get(), judged)
            await publish(INCIDENTS_TOPIC, grouped.messages())
            await asyncio.to_thread(record_incidents, reader.get(), grouped.fresh,
                                    grouped.details)
        except Exception as error:  # the next pass recomputes them from cx.alerts
            log.warning("incident pass skipped: %s: %s", type(error).__name__, error,
                        extra=about_failure(error, "incident pass"))
        found = grouped.found if grouped else incidents(history + changes)
        show_alerts(open_labels(history + changes, found))
        if grouped is not None:
            show_incidents(incident_labels(grouped.found), grouped.info())
        for change in changes:
            metrics.ALERT_CHANGES.labels(change.state).inc()
            log.warning("alert %s: %s %s", change.state, "/".join(change.key), change.reason)
        metrics.ALERT_PASSES.labels("done").inc()


def add_retention(app: faust.App, settings: Settings, reader: LazyWarehouse) -> None:
    """Hourly, the leader checks whether a day has passed since its last retention pass."""
    retention_ran: list[float] = []
    days = settings.retention_days_of()

    @app.timer(3600.0)
    async def enforce_retention() -> None:
        """The leader forgets old rows (CX_RETENTION_DAYS, CX_RETENTION) at most once a day."""
        if not app.is_leader() or not any(days.values()):
            return
        if retention_ran and time.time() - retention_ran[-1] < 86400:
            return
        try:
            done = await asyncio.to_thread(prune, reader.get(), days, now_s=int(time.time()),
                                           cluster=settings.clickhouse_cluster)
        except Exception as error:
            log.warning("retention pass skipped: %s: %s", type(error).__name__, error,
                        extra=about_failure(error, "retention pass"))
            return
        retention_ran[:] = [time.time()]
        for table, months in done.months.items():
            log.warning("retention: dropped %s months %s", table, ", ".join(map(str, months)))
        for table, rows in done.rows.items():
            log.warning("retention: dropped %d %s rows", rows, table)


def add_snapshots(app: faust.App, settings: Settings, reader: LazyWarehouse,
                  weights: Mapping[str, float]) -> None:
    """Every CX_SNAPSHOT_SECONDS the leader sets the score gauges and sends what changed to
    cx.scores."""
    scores_topic = app.topic(SCORES_TOPIC, value_serializer="raw", key_serializer="raw")
    published: dict[str, bytes] = {}
    """Last values sent to cx.scores per scope and window (bounded by the number of scopes)."""

    @app.timer(settings.snapshot_seconds)
    async def publish_snapshots() -> None:
        """The leader publishes rolling scores; the others show none, so nothing counts twice.

        A snapshot that fails (ClickHouse away, shutting down) is skipped, never fatal:
        the next one follows in CX_SNAPSHOT_SECONDS.
        """
        if not app.is_leader():
            clear_gauges()
            published.clear()
            return
        try:
            rows = await asyncio.to_thread(
                snapshot, reader.get(), now_ms=int(time.time() * 1000),
                windows_ms=[int(seconds * 1000) for seconds in settings.score_windows],
                deadline_ms=settings.followup_deadline_ms, top_n=settings.top_touchpoints,
                weights=weights, min_answers=settings.min_answers)
            publish_gauges(rows)
            metrics.SNAPSHOT_LAST_SUCCESS.set_to_current_time()
            for row in rows:
                key = "|".join((row["tenant"], row["channel"], row["touchpoint"], row["window"]))
                values = orjson.dumps({k: v for k, v in row.items() if k != "window_end"})
                if published.get(key) != values:  # only what changed
                    await scores_topic.send(key=key.encode(), value=orjson.dumps(row))
                    published[key] = values
        except Exception as error:
            log.warning("score snapshot skipped: %s: %s", type(error).__name__, error,
                        extra=about_failure(error, "score snapshot"))
