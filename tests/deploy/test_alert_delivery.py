"""Alert delivery through the Prometheus stack, with Debian's Prometheus and Alertmanager.

The deploy configurations are used as they are, rendered for a test: Prometheus
scrapes the worker every second and evaluates the real
deploy/prometheus/rules/cx.yml (unchanged: its CX rules have no ``for:``) every
second; Alertmanager runs the real routes and inhibitions, with every webhook
pointed at the test's receiver and ``group_wait`` cut to a second.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.services import (
    CXPULSE,
    Webhook,
    render_prometheus,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALERTMANAGER_FILE = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def render_alertmanager(webhook: Webhook) -> dict[str, Any]:
    """The deploy configuration, every receiver posting to ``webhook``, groups sent in 1 s."""
    config = yaml.safe_load(ALERTMANAGER_FILE.read_text())
    for receiver in config["receivers"]:
        assert set(receiver) == {"name", "webhook_configs"}, "only webhooks can be redirected"
        for hook in receiver["webhook_configs"]:
            hook["url"] = f"{webhook.url}/{receiver['name']}"

    def shorten(route: dict[str, Any]) -> None:
        if "group_wait" in route:
            route["group_wait"] = "1s"
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    return config


def alert(name: str, **labels: str) -> dict[str, Any]:
    """An alert as Prometheus posts it to Alertmanager (API v2)."""
    now = datetime.now(UTC)
    return {"labels": {"alertname": name} | labels, "annotations": {"summary": name},
            "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=10)).isoformat()}


def cx(name: str, tenant: str, channel: str, touchpoint: str, metric: str,
       severity: str) -> dict[str, Any]:
    return alert(name, area="cx", tenant=tenant, channel=channel, touchpoint=touchpoint,
                 metric=metric, severity=severity)


def key(labels: dict[str, str]) -> tuple[str, ...]:
    return tuple(labels.get(name, "") for name in ("tenant", "channel", "touchpoint", "metric"))


def test_alertmanager_routes_groups_and_inhibits(start_alertmanager, webhook) -> None:
    manager = start_alertmanager(render_alertmanager(webhook))
    delivered = [
        # tenant-wide NPS drop, and a CSAT drop on one of its channels
        (cx("CxScoreDrop", "acme-shop", "*", "*", "nps", "warning"), "cxpulse-cx"),
        (cx("CxScoreDrop", "acme-shop", "web", "*", "csat", "critical"), "cxpulse-cx-page"),
        # a silent channel
        (cx("CxSilentChannel", "acme-shop", "email", "*", "silent_channel", "critical"),
         "cxpulse-cx-page"),
        # a channel-wide failure-rate drop, and a response-rate drop on a channel that talks
        (cx("CxScoreDrop", "globex", "web", "*", "failure_rate", "warning"), "cxpulse-cx"),
        (cx("CxScoreDrop", "globex", "chat", "*", "response_rate", "warning"), "cxpulse-cx"),
    ]
    inhibited = [
        cx("CxScoreDrop", "acme-shop", "web", "*", "nps", "critical"),  # by the tenant-wide
        cx("CxScoreDrop", "acme-shop", "email", "*", "response_rate", "warning"),  # silent
        cx("CxScoreDrop", "globex", "web", "checkout", "failure_rate", "warning"),  # channel
    ]
    manager.post([a for a, _ in delivered] + inhibited)
    expected = {key(a["labels"]): receiver for a, receiver in delivered}

    def received() -> dict[tuple[str, ...], str]:
        return {key(a["labels"]): receiver for receiver, a in webhook.alerts()}

    wait_until(lambda: received().keys() >= expected.keys(), 20,
               f"notifications for {sorted(expected)}")
    suppressed = {key(a["labels"]) for a in inhibited}
    wait_until(lambda: {key(a["labels"]) for a in manager.alerts()
                        if a["status"]["inhibitedBy"]} == suppressed, 10, f"{suppressed} inhibited")
    assert received() == expected
    for note in webhook.notifications:
        assert set(note["groupLabels"]) == {"tenant", "channel", "alertname"}
        assert note["path"] == f"/{note['receiver']}"

    # The pipeline stops delivering: CX alerts opening meanwhile are held back.
    before = len(webhook.notifications)
    manager.post([alert("CxPulseNoWorkers", area="pipeline", severity="critical"),
                  cx("CxScoreDrop", "initech", "web", "*", "nps", "critical")])
    wait_until(lambda: any(a["labels"]["alertname"] == "CxPulseNoWorkers"
                           for _, a in webhook.alerts()), 20, "the pipeline page")
    wait_until(lambda: any(a["labels"].get("tenant") == "initech" and a["status"]["inhibitedBy"]
                           for a in manager.alerts()), 10, "initech's drop inhibited")
    pages = [(note["receiver"], a["labels"]) for note in webhook.notifications[before:]
             for a in note["alerts"]]
    assert [(receiver, labels["alertname"]) for receiver, labels in pages] == [
        ("cxpulse-ops-page", "CxPulseNoWorkers")]


def hurried(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every group re-sent after a second (not 5 minutes) when it changes, so
    a test sees the resolution of a group that was notified firing."""
    def walk(route: dict[str, Any]) -> None:
        route["group_interval"] = "1s"
        for child in route.get("routes", []):
            walk(child)

    walk(config["route"])
    return config


def resolved(sent: dict[str, Any]) -> dict[str, Any]:
    """The same alert, ended a second ago (as Prometheus posts a resolution)."""
    now = datetime.now(UTC)
    return sent | {"startsAt": (now - timedelta(minutes=1)).isoformat(),
                   "endsAt": (now - timedelta(seconds=1)).isoformat()}


def test_one_notification_per_incident(start_alertmanager, webhook) -> None:
    """acme-shop's mobile app checkout fails: nine per-metric alerts of one incident (as
    ``make demo`` once showed) and the incident's CxIncident reach Alertmanager -> the
    webhook gets ONE notification, the incident with its summary; the incident grows
    (a tenth alert, a new summary) without a second page; it resolves -> one resolved
    notification. An alert of an incident that is not notified still gets through."""
    manager = start_alertmanager(hurried(render_alertmanager(webhook)))
    tenant, incident = "acme-shop", "5f1c0a7e9b2d4c6a"

    def member(channel: str, touchpoint: str, metric: str, severity: str = "warning"
               ) -> dict[str, Any]:
        sent = cx("CxScoreDrop", tenant, channel, touchpoint, metric, severity)
        sent["labels"]["incident"] = incident
        return sent

    def notified(summary: str) -> dict[str, Any]:
        sent = alert("CxIncident", area="cx", tenant=tenant, incident=incident,
                     severity="critical")
        sent["annotations"] = {"summary": summary,
                               "description": "What: ...\nSays: \"Zahlung abgelehnt\" (de)"}
        return sent

    members = [member("mobile_app", "checkout", "failure_rate", "critical"),
               member("mobile_app", "*", "failure_rate", "critical"),
               *(member("mobile_app", "*", metric) for metric in (
                   "csat", "ces", "nps", "unhappy_share", "negative_share", "sentiment")),
               member("*", "*", "health")]
    first = ("acme-shop: checkout explains 92% of the rise in mobile_app failure_rate "
             "(0.030 → 0.360), since 2026-11-23T17:07:00Z")
    other = cx("CxScoreDrop", "globex", "web", "*", "nps", "warning")
    other["labels"]["incident"] = "0000000000000001"  # its incident is not notified
    manager.post([*members, notified(first), other])

    def mine() -> list[dict[str, Any]]:
        return [note for note in webhook.notifications
                if note["commonLabels"].get("tenant") == tenant]

    wait_until(lambda: mine() and any(a["labels"].get("tenant") == "globex"
                                      for _, a in webhook.alerts()), 20,
               "the incident's and globex's notifications")
    wait_until(lambda: sum(1 for a in manager.alerts() if a["status"]["inhibitedBy"])
               == len(members), 10, "every alert of the incident held back")
    time.sleep(3)  # three group intervals: anything else would have been sent by now
    [note] = mine()
    assert note["receiver"] == "cxpulse-cx-page" and note["status"] == "firing"
    assert note["groupLabels"] == {"tenant": tenant, "incident": incident}
    [sent] = note["alerts"]
    assert sent["labels"]["alertname"] == "CxIncident"
    assert sent["annotations"]["summary"] == first
    assert "Zahlung abgelehnt" in sent["annotations"]["description"]

    # It grows: one more metric, a new summary. Still one alert; Alertmanager holds the
    # new summary (shown in its UI and in the next notification of the incident).
    grown = first.replace("0.360", "0.410")
    members.append(member("mobile_app", "*", "response_rate"))
    manager.post([*members, notified(grown)])
    wait_until(lambda: any(a["labels"]["alertname"] == "CxIncident"
                           and a["annotations"]["summary"] == grown
                           for a in manager.alerts()), 10, "the grown summary")
    wait_until(lambda: sum(1 for a in manager.alerts() if a["status"]["inhibitedBy"])
               == len(members), 10, "the new alert held back too")
    time.sleep(3)
    assert len(mine()) == 1

    # It resolves with its alerts: one resolved notification, the incident's.
    manager.post([resolved(a) for a in [*members, notified(grown)]])
    wait_until(lambda: len(mine()) == 2, 20, "the incident's resolution")
    time.sleep(3)
    assert len(mine()) == 2
    last = mine()[-1]
    assert last["status"] == "resolved"
    assert [a["labels"]["alertname"] for a in last["alerts"]] == ["CxIncident"]
    assert last["alerts"][0]["annotations"]["summary"] == grown


def cxpulse(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run([CXPULSE, *args], env=os.environ | env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_worker_alert_reaches_the_webhook(kafka, server_url, start_worker, start_alertmanager,
                                          start_prometheus, webhook, tmp_path) -> None:
    """The whole chain: 6 h of traffic with a failure spike in its last 2 h on acme-shop's web
    checkout (``--scenario failure-spike``) -> a real ``cxpulse worker`` ingests it and its
    detector (windows 1 h against 4 h, a pass a second) opens alerts and groups them into
    an incident -> Prometheus scrapes ``cx_alert_active`` and ``cx_incident_active`` /
    ``_info`` and evaluates deploy/prometheus/rules/cx.yml -> Alertmanager -> the test's
    webhook gets the incident, with its summary, and none of its per-metric alerts."""
    started = time.monotonic()
    env = worker_env(kafka, server_url, tmp_path) | {
        "CX_ALERT_SECONDS": "1", "CX_ALERT_WINDOWS": "1h", "CX_ALERT_BASELINE": "4h",
        "CX_SNAPSHOT_SECONDS": "1"}
    worker = start_worker(env)
    manager = start_alertmanager(render_alertmanager(webhook))
    worker.wait_ready()
    start_prometheus(render_prometheus([f"127.0.0.1:{worker.port}"], manager))
    # The traffic ends when it is generated and the detector's windows end at its pass: made
    # once everything is up, so a slow start does not slide the spike out of the 1 h window.
    events = tmp_path / "events.jsonl"
    cxpulse("generate", "--seed", "7", "--backfill", "--duration", "6h", "--rate", "2",
            "--scenario", "failure-spike", "--output", str(events), env=env)
    cxpulse("produce", str(events), env=env)

    def incident_alert() -> tuple[str, dict[str, Any]] | None:
        return next(((receiver, alert) for receiver, alert in webhook.alerts()
                     if alert["labels"]["alertname"] == "CxIncident"), None)

    receiver, delivered = wait_until(incident_alert, 80, f"the incident at the webhook "
                                     f"(worker log {worker.log})", every=0.5)
    labels = delivered["labels"]
    assert labels["area"] == "cx" and labels["tenant"] == "acme-shop"
    assert receiver == {"critical": "cxpulse-cx-page", "warning": "cxpulse-cx"}[
        labels["severity"]]
    assert "instance" not in labels
    summary, description = (delivered["annotations"][name] for name in ("summary", "description"))
    assert summary.startswith("acme-shop: ") and "failure_rate" in summary, summary
    assert "What: failure_rate" in description and "Since: " in description, description
    assert time.monotonic() - started < 90
    # One notification for the incident, none for its per-metric alerts (held back).
    time.sleep(3)
    members = [a for _, a in webhook.alerts() if a["labels"].get("incident") == labels["incident"]
               and a["labels"]["alertname"] != "CxIncident"]
    assert not members, members
    held = [a for a in manager.alerts() if a["labels"].get("incident") == labels["incident"]
            and a["labels"]["alertname"] != "CxIncident"]
    assert held and all(a["status"]["inhibitedBy"] for a in held)
    assert {a["labels"]["metric"] for a in held} >= {"failure_rate"}
