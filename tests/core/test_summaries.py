"""The readable summary of an incident: what, where, since, customers, themes, verbatims."""

from __future__ import annotations

from streams.core.alerts import FIRING, RESOLVED
from streams.core.attribution import attribute
from streams.core.incidents import document, incidents
from streams.core.stats import ALL, Stats
from streams.core.summaries import summarize
from tests.core.test_incidents import ch

START = 1_795_344_000
CHANGES = [ch("mobile_app", "checkout", "failure_rate", FIRING, START, severity="critical"),
           ch("mobile_app", ALL, "failure_rate", FIRING, START),
           ch("mobile_app", ALL, "nps", FIRING, START + 60),
           ch("mobile_app", ALL, "csat", FIRING, START + 120)]


def split() -> dict:
    """Checkout's failures rise from 2% to 30%, login's stay; payment comments surge."""
    leaves = {("mobile_app", "checkout"): (
                  Stats(interactions=100, failures=30, comments=10, theme_payment=6),
                  Stats(interactions=100, failures=2, comments=20, theme_payment=2)),
              ("mobile_app", "login"): (Stats(interactions=100, failures=3, comments=5),
                                        Stats(interactions=100, failures=2, comments=5))}
    found = attribute("failure_rate", ("acme", "mobile_app", ALL), leaves)
    assert found is not None
    return found.as_dict()


def evidence() -> dict:
    return {"comments": [
        {"channel": "mobile_app", "touchpoint": "checkout", "comment": "Zahlung ****   "
         "abgelehnt,\n schon wieder", "language": "de", "themes": ["payment"], "sentiment": -0.9},
        {"channel": "mobile_app", "touchpoint": "checkout", "comment": "x" * 400,
         "language": "en", "themes": [], "sentiment": -0.8},
        {"channel": "mobile_app", "touchpoint": "checkout", "comment": "paiement refusé",
         "language": "fr", "themes": ["payment"], "sentiment": -0.7},
        {"channel": "mobile_app", "touchpoint": "checkout", "comment": "a fourth one",
         "language": "en", "themes": [], "sentiment": -0.6}],
        "cases": 14, "customers": 57}


def test_the_summary_names_the_cause_the_change_and_the_customers() -> None:
    [incident] = incidents(CHANGES)
    told = summarize(document(incident.as_dict(), split(), evidence()))
    assert told.head == ("acme: checkout explains 97% of the rise in mobile_app failure_rate "
                         "(0.020 → 0.165)")
    assert told.lines[:5] == (
        "What: failure_rate rose from 0.020 to 0.165 in mobile_app (critical; 4 alerts: "
        "csat, failure_rate, nps)",
        "Where: checkout explains 97% of the rise in mobile_app failure_rate",
        "Since: 2026-11-22T10:40:00Z",
        "Customers: 57 customers failed or unhappy in mobile_app checkout, "
        "14 follow-up cases opened",
        "Themes: payment x5.0 (6 comments)")
    says = told.lines[5:]
    assert says[0] == 'Says: "Zahlung **** abgelehnt, schon wieder" (de, payment)'
    assert len(says[1]) < 200 and says[1].endswith('…" (en)')
    assert says[2] == 'Says: "paiement refusé" (fr, payment)'
    assert len(says) == 3  # two or three verbatims, never the whole window
    assert told.text == "\n".join(told.lines)


def test_a_resolved_incident_says_when_and_one_without_split_tells_its_alerts() -> None:
    closing = [*CHANGES, *(ch(c.channel, c.touchpoint, c.metric, RESOLVED, START + 3600)
                           for c in CHANGES)]
    [incident] = incidents(closing)
    told = summarize(document(incident.as_dict(), None, None))
    assert told.head == "acme: failure_rate worse in mobile_app"
    assert told.lines == (
        "What: failure_rate worse in mobile_app checkout (critical; 4 alerts: csat, "
        "failure_rate, nps)",
        "Where: mobile_app",
        "Since: 2026-11-22T10:40:00Z, resolved at 2026-11-22T11:40:00Z")


def test_a_split_taken_while_recovering_says_so() -> None:
    recovering = split() | {"value": 0.01, "surges": [{"theme": "stock", "ratio": None}]}
    told = summarize(document(incidents(CHANGES)[0].as_dict(), recovering, {"cases": 0}))
    assert told.lines[0].startswith("What: failure_rate fell from 0.020 to 0.010 in mobile_app "
                                    "(recovering)")
    assert "Customers: 0 follow-up cases opened" in told.lines
    assert "Themes: stock new" in told.lines
