"""cx.incidents on both engines: versions replace, replays change nothing, filters hold."""

from __future__ import annotations

import time

import pytest

from streams.core.alerts import FIRING, RESOLVED
from streams.core.incidents import incidents
from streams.queries.incidents import evidence, listing, record, stored
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
    kept = stored(warehouse, since_s=now - 3600)
    assert {i.id: kept[i.id] for i in final} == {
        final[0].id: (4, attribution, {"comments": [], "cases": 2}),
        final[1].id: (1, None, None)}
    assert listing(warehouse, tenant=f"{tenant}-other") == []


INSIGHT = ("event_id", "tenant", "channel", "touchpoint", "occurred_at", "occurred_ms", "locale",
           "comment", "language", "sentiment", "label", "emotion", "themes", "model_version",
           "enriched_at")
CASE = ("tenant", "channel", "touchpoint", "feedback_id", "customer_id", "survey", "score",
        "scale", "comment", "opened_at", "opened_ms", "due_at", "met_at", "followup_action",
        "version")


def test_evidence_is_the_most_negative_comments_and_the_cases_of_the_scope(
        warehouse: Warehouse) -> None:
    migrate(warehouse)
    tenant = f"ev{time.monotonic_ns()}"
    at = 1_795_344_000

    def insight(event: str, touchpoint: str, sentiment: float, offset: int = 0) -> tuple:
        return (event, tenant, "app", touchpoint, at + offset, 0, "de-DE", f"text {event}",
                "de", sentiment, "negative", "anger", ["payment"], "m1", at)

    warehouse.insert("comment_insights", [
        insight("e1", "checkout", -0.9), insight("e2", "checkout", -0.5),
        insight("e3", "checkout", 0.8), insight("e4", "checkout", -0.2),
        insight("e5", "login", -1.0), insight("e6", "checkout", -1.0, offset=7200),
        insight("e1", "checkout", -0.9)], INSIGHT)  # e1 again: a replay
    warehouse.insert("followup_cases", [
        (tenant, "app", "checkout", f"f{i}", "c", "nps", 2, 10, "", at + i, 0, at + 3600,
         None, "", 0) for i in range(3)] + [
        (tenant, "app", "checkout", "f0", "c", "nps", 2, 10, "", at, 0, at + 3600, None, "",
         0)], CASE)
    warehouse.insert("interactions", [
        (f"i{i}", tenant, "app", touchpoint, at + i, who, outcome)
        for i, (touchpoint, who, outcome) in enumerate([
            ("checkout", "c", "failure"), ("checkout", "d", "failure"),
            ("checkout", "d", "failure"), ("checkout", "e", "success"),
            ("checkout", "", "failure"), ("login", "f", "failure")])],
        ("event_id", "tenant", "channel", "touchpoint", "occurred_at", "customer_id", "outcome"))
    found = evidence(warehouse, (tenant, "app", "checkout"), start_s=at - 60, end_s=at + 3600)
    # customers: c (a case and a failure) and d (two failures); not e (no failure), not
    # the failure without a customer id, not f (login)
    assert found["customers"] == 2
    assert [c["comment"] for c in found["comments"]] == ["text e1", "text e2", "text e4"]
    assert found["comments"][0] == {"channel": "app", "touchpoint": "checkout",
                                    "comment": "text e1", "language": "de",
                                    "themes": ["payment"], "sentiment": -0.9}
    assert found["cases"] == 3
    wider = evidence(warehouse, (tenant, "app", "*"), start_s=at - 60, end_s=at + 3600,
                     comments=1)
    assert [c["comment"] for c in wider["comments"]] == ["text e5"]
    assert wider["customers"] == 3
    assert evidence(warehouse, (tenant, "web", "*"), start_s=at, end_s=at + 60) == {
        "comments": [], "cases": 0, "customers": 0}


def test_without_enriched_comments_the_worst_answers_speak(warehouse: Warehouse) -> None:
    """Enrichment off or behind: the verbatims are the comments of the worst-scored answers
    of the scope, each survey on its own scale, withdrawn comments left out."""
    migrate(warehouse)
    tenant = f"ans{time.monotonic_ns()}"
    at = 1_795_344_000

    def answer(event: str, survey: str, score: int, comment: str, scale: int = 5,
               revision: int = 0, touchpoint: str = "checkout") -> tuple:
        return (event, tenant, "app", touchpoint, at, survey, score, scale, comment, "fr-FR",
                revision)

    warehouse.insert("feedback", [
        answer("a1", "nps", 3, "trop lent"),        # 0.3
        answer("a2", "csat", 1, "paiement refusé"),  # 0.0
        answer("a3", "ces", 2, "compliqué"),         # 1/6
        answer("a4", "nps", 0, ""),                  # no comment
        answer("a5", "nps", 1, "nul"),               # 0.1, then withdrawn:
        answer("a5", "nps", 9, "", revision=1),
        answer("a6", "nps", 0, "ailleurs", touchpoint="login"),
        answer("a7", "csat", 2, "bof", scale=10),    # 1/9
        answer("a8", "csat", 1, "paiement refusé")],  # the same words again: shown once
        ("event_id", "tenant", "channel", "touchpoint", "occurred_at", "survey", "score",
         "scale", "comment", "locale", "revision"))
    found = evidence(warehouse, (tenant, "app", "checkout"), start_s=at, end_s=at + 60)
    assert [(c["comment"], c["language"], c["sentiment"]) for c in found["comments"]] == [
        ("paiement refusé", "fr", None), ("bof", "fr", None), ("compliqué", "fr", None)]
    enriched = (("a2", tenant, "app", "checkout", at, 0, "fr-FR", "paiement refusé", "fr",
                 -0.9, "negative", "anger", ["payment"], "m1", at),)
    warehouse.insert("comment_insights", list(enriched), INSIGHT)
    found = evidence(warehouse, (tenant, "app", "checkout"), start_s=at, end_s=at + 60)
    assert [(c["comment"], c["themes"]) for c in found["comments"]] == [
        ("paiement refusé", ["payment"]), ("bof", []), ("compliqué", [])]
