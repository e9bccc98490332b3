"""``cxpulse alerts`` and ``incidents`` read from ClickHouse."""

from __future__ import annotations

import os
import time

import orjson

from tests.cli.test_cli import cxpulse


def test_incidents_lists_them_with_attribution_and_evidence(server_url: str) -> None:
    from streams.core.alerts import FIRING, RESOLVED
    from streams.core.incidents import incidents
    from streams.queries.incidents import record
    from streams.warehouse import connect
    from streams.warehouse.migrate import migrate
    from tests.core.test_incidents import ch

    warehouse = connect(server_url)
    migrate(warehouse)
    tenant = f"cli{os.getpid()}{time.monotonic_ns() % 10**6}"
    now = int(time.time()) // 60 * 60
    found = incidents([ch("app", "checkout", "failure_rate", FIRING, now - 600, tenant=tenant),
                       ch("web", "home", "nps", FIRING, now - 7200, tenant=tenant),
                       ch("web", "home", "nps", RESOLVED, now - 3600, tenant=tenant)])
    attribution = {"summary": "checkout explains 97% of the rise in app failure_rate",
                   "surges": [{"theme": "payment", "ratio": 4.0}]}
    evidence = {"comments": [{"comment": "Zahlung klappt nicht", "language": "de",
                              "themes": ["payment"]}], "cases": 3}
    record(warehouse, found, {found[1].id: (attribution, evidence)})
    env = {"CX_CLICKHOUSE_URL": server_url}
    listed = cxpulse("incidents", "--json", "--since", "2000-01-01T00:00:00Z", env=env)
    assert listed.returncode == 0, listed.stderr.decode()
    mine = [r for r in orjson.loads(listed.stdout) if r["tenant"] == tenant]
    assert [(r["primary_metric"], r["state"]) for r in mine] == [("failure_rate", "open"),
                                                                 ("nps", "resolved")]
    assert mine[0]["attribution"] == attribution and mine[0]["evidence"] == evidence
    opened = cxpulse("incidents", "--open", "--json", env=env)
    assert [r["id"] for r in orjson.loads(opened.stdout) if r["tenant"] == tenant] == [
        found[1].id]
    table = cxpulse("incidents", "--open", env=env).stdout.decode()
    block = table.split(tenant, 1)[1].split("\n")
    assert block[1:5] == ["    checkout explains 97% of the rise in app failure_rate",
                          "    themes: payment x4.0",
                          '    "Zahlung klappt nicht" (de) [payment]',
                          "    3 follow-up cases opened"]
