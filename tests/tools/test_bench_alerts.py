"""``cxpulse bench alerts``: what counts as a detection, and a tiny run of every stage.

No timing asserts: the numbers are the benchmark's to report, the shape and the
scope rules are the tests'.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from streams.cli.main import build_parser
from streams.core.alerts import FIRING, RESOLVED, Change
from streams.core.drops import DetectorConfig
from streams.tools.bench.alerts import (
    TENANTS,
    Plan,
    detection,
    in_scope,
    measure,
    openings,
    rate_for,
    report,
    server_databases,
)
from streams.tools.generate import (
    TrafficSpec,
    incident_of,
    interaction_share,
    interactions_per_hour,
)
from streams.tools.generate.tables import CHANNELS
from streams.warehouse.local import ClickHouseServer
from tests.support.services import CXPULSE


def _change(key: tuple[str, str, str, str], state: str, at: int, severity: str = "warning"
            ) -> Change:
    return Change(*key, state=state, at=at, window="1h", value=None, baseline=None, n=0,
                  reason="r", severity=severity, p_value=None, baseline_window="7d",
                  windows="1h,6h")


def _incident(scenario: str):
    incident = incident_of(TrafficSpec(start=0, duration=86_400, rate=1.0, scenario=scenario,
                                       tenants=TENANTS))
    assert incident is not None
    return incident


def test_the_rate_gives_the_asked_volume_on_the_affected_scope() -> None:
    rate = rate_for("silent-channel", TENANTS, 30.0)
    spec = TrafficSpec(start=0, duration=1, rate=rate, tenants=TENANTS)
    assert interactions_per_hour(spec, "acme-shop", "mobile_app") == pytest.approx(30.0)
    whole = rate_for("followup-backlog", TENANTS, 30.0)
    assert 3600 * whole * sum(interaction_share(TENANTS, "acme-shop", channel)
                              for channel in CHANNELS.items) == pytest.approx(30.0)
    assert rate_for("steady", TENANTS, 30.0) == pytest.approx(rate_for("nps-drop", TENANTS, 30.0))


def test_the_scope_takes_rollups_and_related_metrics_and_nothing_else() -> None:
    spike = _incident("failure-spike")  # acme-shop / web / checkout, failure_rate
    assert in_scope(spike, ("acme-shop", "web", "checkout", "failure_rate"))
    assert in_scope(spike, ("acme-shop", "web", "*", "failure_rate"))
    assert in_scope(spike, ("acme-shop", "*", "*", "health"))
    assert not in_scope(spike, ("acme-shop", "web", "search", "failure_rate"))
    assert in_scope(spike, ("acme-shop", "web", "checkout", "nps"))  # failed customers answer
    assert not in_scope(spike, ("acme-shop", "web", "checkout", "response_rate"))
    assert not in_scope(spike, ("nordwind", "web", "checkout", "failure_rate"))
    drop = _incident("nps-drop")  # every touchpoint of acme-shop's web
    assert in_scope(drop, ("acme-shop", "web", "search", "csat"))
    assert in_scope(drop, ("acme-shop", "web", "*", "unhappy_share"))
    assert not in_scope(drop, ("acme-shop", "mobile_app", "*", "nps"))
    backlog = _incident("followup-backlog")
    assert in_scope(backlog, ("acme-shop", "*", "*", "followup_sla_floor"))


def test_escalations_are_not_new_alerts_and_early_ones_are_false() -> None:
    incident = _incident("failure-spike")
    onset = int(incident.start)
    key = ("acme-shop", "web", "checkout", "failure_rate")
    other = ("nordwind", "chat", "*", "response_rate")
    changes = [_change(key, FIRING, onset - 300), _change(key, RESOLVED, onset),
               _change(key, FIRING, onset + 600), _change(key, FIRING, onset + 900, "critical"),
               _change(other, FIRING, onset + 1200)]
    assert [c.at for c in openings(changes)] == [onset - 300, onset + 600, onset + 1200]
    found = detection(incident, changes)
    assert found["detected"] and found["delay_s"] == 600
    assert found["first_alert"] == "acme-shop/web/checkout/failure_rate"
    assert [a["at"] for a in found["false_alarms"]] == [onset - 300, onset + 1200]
    assert detection(incident, [])["delay_s"] is None


def test_the_cli_offers_the_alert_suite_and_keeps_the_default_bench() -> None:
    args = build_parser().parse_args(["bench", "alerts", "--quick", "--json", "out.json"])
    assert (args.suite, args.quick, args.json) == ("alerts", True, "out.json")
    default = build_parser().parse_args(["bench"])
    assert (default.suite, default.quick, default.events) == (None, False, 200_000)
    done = subprocess.run([CXPULSE, "bench", "--quick"], capture_output=True, timeout=60,
                          check=False)
    assert done.returncode == 2 and b"'bench alerts' and 'bench collect' only" in done.stderr


@pytest.mark.integration
def test_a_tiny_run_measures_every_stage(clickhouse_server: ClickHouseServer) -> None:
    plan = Plan(days=2, volumes={"high": 100.0}, scenarios=("failure-spike",),
                cost_shape=(2, 2, 5), cost_hours=30)
    base = clickhouse_server.url("x").rsplit("/", 1)[0]
    with server_databases(base) as fresh:
        results = measure(plan, fresh, DetectorConfig(), 48 * 3_600_000, int(time.time()))
    [row] = results["detection"]
    assert row["scenario"] == "failure-spike" and row["events"] > 5_000
    assert row["steps"] == (3 * 3600 + 3600) // 300 + 1  # an hour before the onset to the end
    assert row["detected"] == bool(row["in_scope"])
    assert all(hit["delay_s"] >= 0 for hit in row["in_scope"])
    assert set(row["detectors"]) == {"windows", "sequential", "combined"}
    assert row["detected"] == row["detectors"]["windows"]["detected"]  # as configured
    needs = row["evidence"]
    assert needs["measure"] == "failure_rate" and needs["hypotheses"] > 0
    assert needs["bar"] == pytest.approx(0.001 / needs["hypotheses"])
    assert needs["p1"] > needs["p0"] and needs["n"] >= 1 and needs["min_n"] == 20
    [steady] = results["steady"]
    assert steady["tenants"] == 3 and steady["weeks"] == pytest.approx(1 / 7)
    assert steady["per_tenant_week"] == pytest.approx(steady["alerts"] * 7 / 3)
    assert steady["steps"] == 86_400 // 300 + 1
    assert steady["alerts"] == steady["detectors"]["windows"]["alerts"]
    cost = results["pass_cost"]
    assert cost["leaf_scopes"] == 20 and cost["minute_rows"] == 600
    assert cost["scopes_judged"] == 20 + 2 * 2 + 2  # leaves, channel rollups, tenants
    assert cost["comparisons"] == 2 * cost["scopes_judged"]
    assert cost["peak_traced_mib"] > 0 and cost["read_s"] >= cost["read_sql_s"] > 0
    text = report(results)
    assert "failure-spike" in text and "per tenant-week" in text and "26 judged" in text
