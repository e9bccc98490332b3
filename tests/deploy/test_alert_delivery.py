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


def cxpulse(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run([CXPULSE, *args], env=os.environ | env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_worker_alert_reaches_the_webhook(kafka, server_url, start_worker, start_alertmanager,
                                          start_prometheus, webhook, tmp_path) -> None:
    """The whole chain: 6 h of traffic with a failure spike in its last 2 h on acme-shop's web
    checkout (``--scenario failure-spike``) -> a real ``cxpulse worker`` ingests it and its
    detector (windows 1 h against 4 h, a pass a second) opens an alert -> Prometheus
    scrapes ``cx_alert_active`` and evaluates deploy/prometheus/rules/cx.yml ->
    Alertmanager -> the test's webhook."""
    started = time.monotonic()
    env = worker_env(kafka, server_url, tmp_path) | {
        "CX_ALERT_SECONDS": "1", "CX_ALERT_WINDOWS": "1h", "CX_ALERT_BASELINE": "4h",
        "CX_SNAPSHOT_SECONDS": "1"}
    events = tmp_path / "events.jsonl"
    cxpulse("generate", "--seed", "7", "--backfill", "--duration", "6h", "--rate", "2",
            "--scenario", "failure-spike", "--output", str(events), env=env)
    cxpulse("produce", str(events), env=env)
    worker = start_worker(env)
    manager = start_alertmanager(render_alertmanager(webhook))
    worker.wait_ready()
    start_prometheus(render_prometheus([f"127.0.0.1:{worker.port}"], manager))

    def failure_alert() -> tuple[str, dict[str, Any]] | None:
        return next(((receiver, alert) for receiver, alert in webhook.alerts()
                     if alert["labels"].get("metric") == "failure_rate"), None)

    receiver, delivered = wait_until(failure_alert, 80, f"a failure_rate alert at the "
                                     f"webhook (worker log {worker.log})", every=0.5)
    labels = delivered["labels"]
    assert labels["alertname"] == "CxScoreDrop" and labels["area"] == "cx"
    assert labels["tenant"] == "acme-shop"
    assert labels["channel"] in {"web", "*"}  # a tenant-wide drop inhibits the channel's
    assert receiver == {"critical": "cxpulse-cx-page", "warning": "cxpulse-cx"}[
        labels["severity"]]
    assert "failure_rate dropped for acme-shop" in delivered["annotations"]["summary"]
    assert "instance" not in labels
    assert time.monotonic() - started < 90
