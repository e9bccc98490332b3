"""cx.incidents on both engines: versions replace, replays change nothing, filters hold."""

from __future__ import annotations

import time

import pytest

from streams.core.alerts import FIRING, RESOLVED
from streams.core.incidents import incidents
from streams.queries.incidents import listing, record, stored_versions
from streams.warehouse import Warehouse
from streams.warehouse.migrate import migrate
from tests.core.test_incidents import ch

pytestmark = pytest.mark.integration


def test_incidents_are_stored_versioned_and_read_back(warehouse: Warehouse) -> None:
    migrate(warehouse)
    tenant = f"inc{time.monotonic_ns()}"
    now = int(time.time()) // 60 * 60
    changes = [ch("app", "checkout", "failure_rate", FIRING, now - 600, tenant=tenant),
               ch("app", "*", "csat", FIRING, now - 540, tenant=tenant),
               ch("web", "home", "nps", FIRING, now - 500, tenant=tenant),
               ch("app", "checkout", "failure_rate", RESOLVED, now - 120, tenant=tenant),
               ch("app", "*", "csat", RESOLVED, now - 60, tenant=tenant)]
    early, final = incidents(changes[:3]), incidents(changes)
    attribution = {"summary": "checkout explains 97% of the rise in app failure_rate"}
    details = {final[0].id: (attribution, {"comments": [], "cases": 2})}
    for batch in (early, final, early, final):  # replays, in any order
        record(warehouse, batch, details)
    rows = listing(warehouse, since_s=now - 3600, tenant=tenant)
    assert [(r["primary_metric"], r["state"], r["version"]) for r in rows] == [
        ("nps", "open", 1), ("failure_rate", "resolved", 4)]
    checkout = rows[1]
    assert checkout["metrics"] == ["csat", "failure_rate"]
    assert (checkout["channel"], checkout["touchpoint"], checkout["alerts"]) == ("app", "*", 2)
    assert checkout["resolved_at"] is not None and checkout["resolved_at"].endswith("Z")
    assert checkout["attribution"] == attribution
    assert checkout["evidence"] == {"comments": [], "cases": 2}
    assert rows[0]["resolved_at"] is None and rows[0]["attribution"] is None
    assert [r["id"] for r in listing(warehouse, open_only=True, tenant=tenant)] == [
        final[1].id]
    later = listing(warehouse, since_s=now, tenant=tenant)
    assert [r["state"] for r in later] == ["open"]  # open ones are always listed
    versions = stored_versions(warehouse, since_s=now - 3600)
    assert {i.id: versions[i.id] for i in final} == {final[0].id: 4, final[1].id: 1}
    assert listing(warehouse, tenant=f"{tenant}-other") == []
