"""Incidents from alert changes: grouping by scope and time, ids, versions, replays."""

from __future__ import annotations

import itertools
import random

import pytest

from streams.core.alerts import ALERT_COLUMNS, FIRING, RESOLVED, Change
from streams.core.incidents import (
    OPEN,
    change_of,
    changed,
    covering,
    episodes,
    incident_id,
    incidents,
    related,
)
from streams.core.stats import ALL


def ch(channel: str, touchpoint: str, metric: str, state: str, at: int, tenant: str = "acme",
       severity: str = "warning", p_value: float | None = 1e-4) -> Change:
    return Change(tenant, channel, touchpoint, metric, state, at, "1h", 0.2, 0.05, 40, "why",
                  severity, p_value, "7d", "1h,6h")


CHECKOUT = [
    ch("app", "checkout", "failure_rate", FIRING, 600),
    ch("app", ALL, "failure_rate", FIRING, 600, p_value=1e-3),
    ch("app", ALL, "csat", FIRING, 660),
    ch(ALL, ALL, "health", FIRING, 720),
    ch("app", "checkout", "failure_rate", FIRING, 780, severity="critical"),
    ch("app", "checkout", "failure_rate", RESOLVED, 3600, severity="critical"),
    ch("app", ALL, "failure_rate", RESOLVED, 3600),
    ch("app", ALL, "csat", RESOLVED, 3660),
    ch(ALL, ALL, "health", RESOLVED, 3720),
]


def test_related_scopes_are_nested_or_share_a_channel() -> None:
    assert related(("a", "app", "checkout"), ("a", "app", ALL))
    assert related(("a", "app", "checkout"), ("a", ALL, ALL))
    assert related(("a", "app", "checkout"), ("a", "app", "login"))
    assert not related(("a", "app", "checkout"), ("a", "web", "checkout"))
    assert not related(("a", "app", "checkout"), ("b", "app", "checkout"))


def test_covering_is_the_most_specific_scope_holding_all() -> None:
    assert covering([("a", "app", "checkout")] * 2) == ("a", "app", "checkout")
    assert covering([("a", "app", "checkout"), ("a", "app", "login")]) == ("a", "app", ALL)
    assert covering([("a", "app", "checkout"), ("a", "web", ALL)]) == ("a", ALL, ALL)


def test_one_problem_at_nested_scopes_is_one_incident() -> None:
    [incident] = incidents(CHECKOUT)
    assert incident.state == RESOLVED
    assert (incident.channel, incident.touchpoint) == (ALL, ALL)
    # Two firings at 600: the smaller p-value is the primary signal.
    assert (incident.primary_channel, incident.primary_touchpoint, incident.primary_metric,
            incident.primary_at) == ("app", "checkout", "failure_rate", 600)
    assert incident.metrics == ("csat", "failure_rate", "health")
    assert incident.alerts == 4
    assert incident.severity == "critical"
    assert (incident.opened_at, incident.updated_at, incident.resolved_at) == (600, 3720, 3720)
    assert incident.version == len(CHECKOUT)
    assert incident.id == incident_id("acme", ("acme", "app", "checkout", "failure_rate"), 600)


def test_open_while_any_alert_is_open_and_version_grows_with_every_change() -> None:
    versions = []
    for end in range(1, len(CHECKOUT) + 1):
        [incident] = incidents(CHECKOUT[:end])
        versions.append(incident.version)
        assert incident.id == incidents(CHECKOUT)[0].id
        assert (incident.state == OPEN) == (end < len(CHECKOUT))
        assert incident.resolved_at is None or end == len(CHECKOUT)
    assert versions == sorted(set(versions))


def test_disjoint_scopes_and_tenants_make_separate_incidents() -> None:
    changes = [ch("app", "checkout", "failure_rate", FIRING, 600),
               ch("web", "search", "csat", FIRING, 600),
               ch("app", "checkout", "failure_rate", FIRING, 600, tenant="other")]
    found = incidents(changes)
    assert len(found) == 3
    assert len({i.id for i in found}) == 3
    assert {(i.tenant, i.channel, i.touchpoint) for i in found} == {
        ("acme", "app", "checkout"), ("acme", "web", "search"), ("other", "app", "checkout")}


def test_two_touchpoints_of_one_channel_overlap_through_the_rollup() -> None:
    [incident] = incidents([ch("app", "checkout", "failure_rate", FIRING, 600),
                            ch("app", "login", "csat", FIRING, 900)])
    assert incident.scope == ("acme", "app", ALL)


def test_a_tenant_alert_joins_but_never_merges_two_open_incidents() -> None:
    first, second = incidents([ch("app", "checkout", "failure_rate", FIRING, 600),
                               ch("web", "search", "csat", FIRING, 660),
                               ch(ALL, ALL, "health", FIRING, 720)])
    assert (first.alerts, second.alerts) == (2, 1)
    assert first.metrics == ("failure_rate", "health")


def test_time_must_overlap_and_refiring_extends_only_an_open_incident() -> None:
    key = ("app", "checkout", "failure_rate")
    base = [ch(*key, FIRING, 600), ch("app", ALL, "csat", FIRING, 660),
            ch(*key, RESOLVED, 1200)]
    # Fires again while the csat alert keeps the incident open: the same incident.
    [extended] = incidents([*base, ch(*key, FIRING, 2400)])
    assert (extended.alerts, extended.state) == (3, OPEN)
    # Fires again after everything resolved: a new incident with its own id.
    closed = [*base, ch("app", ALL, "csat", RESOLVED, 1800)]
    first, second = incidents([*closed, ch(*key, FIRING, 2400)])
    assert (first.state, first.resolved_at) == (RESOLVED, 1800)
    assert (second.state, second.primary_at, second.alerts) == (OPEN, 2400, 1)
    assert first.id != second.id


def test_an_alert_firing_at_the_instant_another_resolves_joins_it() -> None:
    [incident] = incidents([ch("app", "checkout", "failure_rate", FIRING, 600),
                            ch("app", "checkout", "failure_rate", RESOLVED, 1200),
                            ch("app", ALL, "csat", FIRING, 1200)])
    assert incident.alerts == 2


def test_order_independent_and_idempotent_under_replays() -> None:
    expected = incidents(CHECKOUT)
    shuffled = list(CHECKOUT)
    for seed in range(20):
        random.Random(seed).shuffle(shuffled)
        assert incidents(shuffled) == expected
    assert incidents(CHECKOUT + CHECKOUT[:5]) == expected
    assert [i.version for i in incidents(CHECKOUT * 3)] == [len(CHECKOUT)]


def test_every_permutation_of_a_tie_gives_the_same_primary() -> None:
    tie = [ch("app", "checkout", "failure_rate", FIRING, 600, p_value=0.01),
           ch("app", ALL, "csat", FIRING, 600, severity="critical", p_value=0.02),
           ch("app", ALL, "nps", FIRING, 600, p_value=0.001)]
    primaries = {incidents(list(p))[0].primary_metric for p in itertools.permutations(tie)}
    assert primaries == {"csat"}


def test_at_one_instant_and_severity_the_likelier_cause_leads() -> None:
    """A failing checkout drags its CSAT and the health index down in the same pass; their
    larger samples give them smaller p-values, yet the failures lead."""
    tie = [ch("web", "checkout", "health", FIRING, 600, severity="critical", p_value=7.7e-28),
           ch("web", "checkout", "csat", FIRING, 600, severity="critical", p_value=3.7e-6),
           ch("web", "checkout", "failure_rate", FIRING, 600, severity="critical",
              p_value=7.3e-24),
           ch("web", ALL, "failure_rate", FIRING, 600, p_value=4.6e-12)]
    for order in itertools.permutations(tie):
        assert incidents(list(order))[0].primary_metric == "failure_rate"
    # without a service signal, customers' answers lead the composite
    assert incidents(tie[:2])[0].primary_metric == "csat"
    # an earlier firing leads whatever it is
    assert incidents([ch("web", ALL, "health", FIRING, 540), *tie])[0].primary_metric == "health"


def test_a_resolution_without_its_firing_is_ignored() -> None:
    assert incidents([ch("app", ALL, "csat", RESOLVED, 600)]) == []
    assert episodes([ch("app", ALL, "csat", RESOLVED, 600)]) == []


def test_changed_keeps_new_and_grown_incidents_only() -> None:
    before = incidents(CHECKOUT[:4])
    after = incidents(CHECKOUT)
    assert changed(before, after) == after
    assert changed(after, after) == []
    assert changed([], before) == before


def test_change_of_reads_a_stored_row_and_rejects_bad_ones() -> None:
    row = CHECKOUT[0].as_dict()
    assert change_of(row) == CHECKOUT[0]
    assert incidents([change_of(c.as_dict()) for c in CHECKOUT]) == incidents(CHECKOUT)
    with pytest.raises(ValueError, match="lacks severity"):
        change_of({k: v for k, v in row.items() if k != "severity"})
    with pytest.raises(ValueError, match="alert state must be"):
        change_of({**row, "state": "pending"})
    assert set(row) == set(ALERT_COLUMNS)


def test_a_row_holds_every_column() -> None:
    [incident] = incidents(CHECKOUT)
    row = incident.as_dict()
    assert row["metrics"] == ["csat", "failure_rate", "health"]
    assert len(incident.row()) == len(row)
