"""Issue 7's acceptance: real drops page, steady traffic never does (real broker, ClickHouse).

Eight days of stationary traffic for two tenants on every channel, with a few
hours of degraded NPS and failure rate on the first tenant's low-volume web
channel at the end, go through a real worker, whose leader pass must fire for
that channel and for nothing of the stationary tenant. A steady replay of eight
days for three tenants, backtested over every step, must fire nothing at all.
"""

from __future__ import annotations

import subprocess
import time

import orjson
import pytest

from streams.core.alerts import FIRING, RESOLVED
from streams.core.drops import Comparison, DetectorConfig, Span
from streams.core.scores import Followups
from streams.core.stats import Stats
from streams.kafka.produce import record_of
from streams.queries.incidents import listing
from streams.tools.generate import TrafficSpec, generate, incident_of, interactions_per_hour
from streams.tools.load import load
from streams.warehouse import connect
from streams.warehouse.migrate import migrate
from streams.worker.alerting import AlertPass, Judged, incident_labels, stronger
from tests.core.test_incidents import ch
from tests.support.services import (
    CXPULSE,
    consume_keyed,
    produce,
    table_count,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.integration

DAY = 86_400
LOW_VOLUME = 36.0
"""Interactions per hour on the affected channel: "a few dozen"."""


def rate_for(tenants: tuple[str, ...], per_hour: float) -> float:
    """The generator rate that gives ``per_hour`` interactions/h on the first tenant's web."""
    probe = TrafficSpec(start=0, duration=1, rate=1.0, tenants=tenants)
    return per_hour / interactions_per_hour(probe, tenants[0], "web")


def cli_json(args: list[str], env: dict[str, str]) -> object:
    done = subprocess.run([CXPULSE, *args, "--json"], env=env, capture_output=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr.decode()
    return orjson.loads(done.stdout)


def test_a_low_volume_web_degradation_pages_and_the_stationary_tenant_does_not(
        kafka, server_url, start_worker, tmp_path) -> None:
    tenants = ("acme-shop", "nordwind")
    now = time.time()
    spec = TrafficSpec(seed=21, start=now - 8 * DAY, duration=8 * DAY, scenario="degraded",
                       rate=rate_for(tenants, LOW_VOLUME), tenants=tenants)
    incident = incident_of(spec)
    assert incident is not None and (incident.tenant, incident.channel) == ("acme-shop", "web")
    assert 2 * 3600 <= incident.end - incident.start <= 4 * 3600  # a few hours
    events = list(generate(spec))
    web = sum(e["type"] == "interaction" and e["tenant"] == "acme-shop" and e["channel"] == "web"
              for e in events)
    assert 20 <= web / (8 * 24) <= 60  # really low volume: a few dozen per hour
    env = worker_env(kafka, server_url, tmp_path) | {"CX_ALERT_SECONDS": "1"}
    worker = start_worker(env)
    worker.wait_ready()
    produce(kafka, [record_of(event) for event in events])
    warehouse = connect(server_url)
    interactions = sum(e["type"] == "interaction" for e in events)
    wait_until(lambda: table_count(warehouse, "interactions") == interactions, 120,
               "the eight days to land")

    def web_alert() -> list[dict]:
        rows = cli_json(["alerts", "--firing"], env | {"CX_CLICKHOUSE_URL": server_url})
        return [r for r in rows if r["tenant"] == "acme-shop" and r["channel"] == "web"]

    firing = wait_until(web_alert, 120, "an alert for acme-shop's web channel")
    assert {r["metric"] for r in firing} & {"failure_rate", "nps", "health"}
    assert all(r["state"] == "firing" and r["p_value"] is not None and r["p_value"] < 1e-3
               for r in firing)
    time.sleep(3)  # a few more passes: still nothing for the stationary tenant
    every = cli_json(["alerts"], env | {"CX_CLICKHOUSE_URL": server_url})
    assert every and not [r for r in every if r["tenant"] == "nordwind"]
    assert all(r["tenant"] == "acme-shop" and r["channel"] in ("web", "*") for r in every), every
    assert worker.counter("cx_alert_passes_total", outcome="done") > 0
    assert 'tenant="acme-shop"' in worker.metrics().split("cx_alert_active", 1)[1]

    # The alerts of the degradation are one incident, with the firing metrics in it.
    def web_incidents() -> list[dict]:
        rows = cli_json(["incidents"], env | {"CX_CLICKHOUSE_URL": server_url})
        return [r for r in rows if r["tenant"] == "acme-shop"]

    grouped = wait_until(lambda: [r for r in web_incidents()
                                  if {f["metric"] for f in firing} <= set(r["metrics"])],
                         60, "one incident holding acme-shop's web alerts")
    assert all(r["channel"] in ("web", "*") for r in web_incidents())
    assert not [r for r in cli_json(["incidents"], env | {"CX_CLICKHOUSE_URL": server_url})
                if r["tenant"] == "nordwind"]
    assert f'incident="{grouped[0]["id"]}"' in worker.metrics().split("cx_incident_active", 1)[1]
    # One notification per incident: each version on cx.incidents (published before
    # recorded, so at least the stored ones), its summary for Alertmanager in
    # cx_incident_info, and each of its alerts labelled with its id.
    incident_id = grouped[0]["id"]
    sent = [orjson.loads(value) for key, value in consume_keyed(kafka, "cx.incidents", 1)
            if key == f"acme-shop|{incident_id}".encode()]
    assert sent and sent[0]["id"] == incident_id and sent[0]["state"] == "open"
    assert sent[0]["summary"].startswith("acme-shop: ") and "What: " in sent[0]["text"]
    exported = worker.metrics()
    info = exported.split("cx_incident_info{", 1)[1].split("\n", 1)[0]
    assert f'incident="{incident_id}"' in info and 'summary="acme-shop: ' in info
    alert_lines = [line for line in exported.splitlines()
                   if line.startswith("cx_alert_active{") and 'tenant="acme-shop"' in line]
    assert alert_lines and all(f'incident="{incident_id}"' in line for line in alert_lines)

    # A leader change: the open alerts carry over, none fires a second time.
    worker.stop()
    successor = start_worker(env)
    successor.wait_ready()
    wait_until(lambda: successor.counter("cx_alert_passes_total", outcome="done") >= 3, 90,
               "three passes of the new leader")
    again = cli_json(["alerts"], env | {"CX_CLICKHOUSE_URL": server_url})
    firings = [(r["channel"], r["touchpoint"], r["metric"]) for r in again
               if r["state"] == "firing" and r["severity"] == "critical"]
    assert len(firings) == len(set(firings)), again
    shown = successor.metrics().split("cx_alert_active", 1)[1]
    assert all(f'metric="{r["metric"]}"' in shown for r in firing)
    # ... and so does the incident: the same id, no second incident for the same alerts.
    assert grouped[0]["id"] in {r["id"] for r in web_incidents()}
    wait_until(lambda: f'incident="{incident_id}"' in successor.metrics().split(
        "cx_incident_info", 1)[-1], 30, "the new leader exporting the incident's summary")


def test_eight_steady_days_for_three_tenants_fire_nothing(server_url, tmp_path) -> None:
    tenants = ("acme-shop", "nordwind", "sakura")
    now = time.time() // 900 * 900
    spec = TrafficSpec(seed=8, start=now - 8 * DAY, duration=8 * DAY, scenario="steady",
                       rate=rate_for(tenants, LOW_VOLUME), tenants=tenants)
    warehouse = connect(server_url)
    migrate(warehouse)
    accepted = load(warehouse, generate(spec), deadline_ms=48 * 3_600_000)
    assert accepted > 40_000
    env = {"CX_CLICKHOUSE_URL": server_url, "CX_DATA_DIR": str(tmp_path)}
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 7 * DAY))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    report = cli_json(["alerts", "backtest", "--from", start, "--to", end, "--step", "15m"], env)
    assert report["fired"] == 0, [(c["at"], c["state"], c["reason"]) for c in report["changes"]]
    assert table_count(warehouse, "alerts") == 0


def test_the_pass_records_each_incident_version_once_with_attribution(warehouse) -> None:
    migrate(warehouse)
    tenant = f"incp{time.monotonic_ns()}"
    config = DetectorConfig(windows_ms=(3_600_000,), baseline_ms=6 * 3_600_000)
    end_s = int(time.time()) // 60 * 60

    def fails(interactions: int, failures: int) -> Span:
        return Span(Stats(interactions=interactions, failures=failures), Followups(0, 0), 60)

    comparisons = [
        Comparison((tenant, "app", "checkout"), 3_600_000, fails(100, 30), fails(600, 12)),
        Comparison((tenant, "app", "login"), 3_600_000, fails(100, 3), fails(600, 12)),
        Comparison((tenant, "app", "*"), 3_600_000, fails(200, 33), fails(1200, 24))]
    fired = [ch("app", "*", "failure_rate", FIRING, end_s - 60, tenant=tenant),
             ch("app", "checkout", "csat", FIRING, end_s, tenant=tenant)]
    alert_pass = AlertPass(config, 3_600_000, 0)
    first = alert_pass.incidents(warehouse, Judged(fired[1:], fired[:1], comparisons,
                                                   end_s * 1000))
    again = alert_pass.incidents(warehouse, Judged([], fired, comparisons, end_s * 1000))
    assert first == again and len(first) == 1
    # A later pass (or a new leader) publishes nothing new, and still knows the summary.
    later = alert_pass.group(warehouse, Judged([], fired, comparisons, end_s * 1000))
    assert later.fresh == [] and later.messages() == []
    [(who, which, summary, description)] = later.info()
    assert (who, which) == (tenant, first[0].id)
    assert summary.startswith(f"{tenant}: checkout explains 97% of the rise in app "
                              "failure_rate (0.020 → 0.165), since ")
    assert description.startswith("What: failure_rate rose from 0.020 to 0.165 in app")
    assert incident_labels(first) == {(tenant, first[0].id, "app", "*", "failure_rate",
                                       "warning")}
    [row] = listing(warehouse, tenant=tenant)
    assert (row["state"], row["version"], row["alerts"]) == ("open", 2, 2)
    # checkout: 1/2 (3/10 - 1/50) - 1/2 (1/50 - 1/50) = 7/50 of a 29/200 rise.
    assert row["attribution"]["cause"] == {"channel": "app", "touchpoint": "checkout",
                                           "share": 28 / 29}
    assert row["attribution"]["summary"] == "checkout explains 97% of the rise in app failure_rate"
    assert row["evidence"] == {"comments": [], "cases": 0, "customers": 0}
    # It grows (an escalation) while the failure rate recovers: the split stays the one
    # that explains the rise.
    escalated = [ch("app", "checkout", "csat", FIRING, end_s + 30, tenant=tenant,
                    severity="critical")]
    recovering = [Comparison(c.scope, c.window_ms, c.baseline, c.recent) for c in comparisons]
    grown = alert_pass.group(warehouse, Judged(escalated, fired, recovering,
                                               end_s * 1000 + 30_000))
    [(key, value)] = grown.messages()
    sent = orjson.loads(value)
    assert key == f"{tenant}|{first[0].id}".encode()
    assert (sent["version"], sent["severity"], sent["state"]) == (3, "critical", "open")
    assert sent["summary"].startswith(f"{tenant}: checkout explains 97%") and "Since: " in sent[
        "text"]
    alert_pass.incidents(warehouse, Judged(escalated, fired, recovering, end_s * 1000 + 30_000))
    [row] = listing(warehouse, tenant=tenant)
    assert (row["severity"], row["version"]) == ("critical", 3)
    assert row["attribution"]["change"] > 0
    assert stronger(None, {"change": 0.1}) == {"change": 0.1}
    assert stronger({"change": -0.2}, {"change": 0.1}) == {"change": -0.2}
    assert stronger({"change": 0.1}, {"change": -0.2}) == {"change": -0.2}
    assert stronger({"change": 0.1}, None) == {"change": 0.1}
    leaf = {"metric": "failure_rate", "channel": "app", "touchpoint": "x", "change": 0.5}
    wider = {"metric": "failure_rate", "channel": "*", "touchpoint": "*", "change": 0.1}
    assert stronger(leaf, wider) == wider  # the incident grew: its new scope's split
    fired += escalated
    resolved = [ch("app", "*", "failure_rate", RESOLVED, end_s + 60, tenant=tenant),
                ch("app", "checkout", "csat", RESOLVED, end_s + 60, tenant=tenant)]
    alert_pass.incidents(warehouse, Judged(resolved, fired, [], end_s * 1000 + 60_000))
    [row] = listing(warehouse, tenant=tenant)
    assert (row["state"], row["version"]) == ("resolved", 5)
    assert row["attribution"]["cause"]["touchpoint"] == "checkout"  # kept from the open pass
    assert incident_labels(alert_pass.incidents(
        warehouse, Judged([], fired + resolved, [], end_s * 1000 + 60_000))) == set()
