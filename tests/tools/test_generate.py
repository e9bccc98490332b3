"""The synthetic traffic generator: contract-valid, deterministic, realistic enough to score.

Timestamps are checked with exact integer arithmetic: the generator promises that
event instants are nondecreasing with a tolerance of 0 ms, and all lie in
``[start, start + duration)``.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from itertools import pairwise
from random import Random
from typing import Any

import orjson
import pytest

from streams.cli.main import build_parser
from streams.core.contract import TOPIC_OF_TYPE, Validator, ValidEvent
from streams.tools.generate import (
    DEGRADED_SPAN,
    FOLLOWUP_SLA_SECONDS,
    SCENARIOS,
    Incident,
    TrafficSpec,
    blind_spot_of,
    generate,
    incident_of,
    interaction_share,
    interactions_per_hour,
    needs_followup,
    stamp,
)
from streams.tools.generate.model import EFFECTS

START = 1_790_000_000.25  # a fractional start: the first instant must still be >= it
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SPECS = {
    "steady": TrafficSpec(start=START, duration=600, rate=5),
    "incident": TrafficSpec(seed=11, start=START, duration=1200, rate=4, scenario="incident"),
    "blind-spot": TrafficSpec(start=START, duration=900, rate=4, scenario="blind-spot",
                              tenants=("solo",)),
    "long": TrafficSpec(seed=3, start=START, duration=8 * 86400, rate=0.012),
}
# Large enough samples for the score comparisons; same seed, only the scenario differs.
BIG = {name: TrafficSpec(start=START, duration=1500, rate=16, scenario=name)
       for name in ("steady", "incident")}


@cache
def events_of(spec: TrafficSpec) -> tuple[dict[str, Any], ...]:
    return tuple(generate(spec))


def instant_ms(text: str) -> int:
    """Exact epoch milliseconds of an RFC 3339 string (no float rounding)."""
    return (datetime.fromisoformat(text) - EPOCH) // timedelta(milliseconds=1)


def nps(scores: list[int]) -> float:
    return 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)


def all_events() -> list[dict[str, Any]]:
    return [e for spec in SPECS.values() for e in events_of(spec)]


@pytest.mark.parametrize("name", SPECS)
def test_every_event_passes_the_contract(name: str) -> None:
    spec = SPECS[name]
    events = events_of(spec)
    assert 2_000 <= len(events) <= 10_000
    validator = Validator(max_event_bytes=65_536, max_age_seconds=int(spec.duration) + 86_400)
    now = spec.start + spec.duration
    for event in events:
        result = validator.check(orjson.dumps(event), TOPIC_OF_TYPE[event["type"]], now)
        assert isinstance(result, ValidEvent), (result, event)
        assert result.occurred_ms == instant_ms(event["occurred_at"])


def test_same_seed_same_events_other_seed_other_events() -> None:
    spec = SPECS["steady"]
    first = list(generate(spec))
    assert first == list(generate(spec))
    other = list(generate(TrafficSpec(seed=8, start=spec.start, duration=spec.duration,
                                      rate=spec.rate)))
    assert other != first
    assert not {e["event_id"] for e in other} & {e["event_id"] for e in first}


@pytest.mark.parametrize("name", SPECS)
def test_event_ids_unique_and_short(name: str) -> None:
    ids = [e["event_id"] for e in events_of(SPECS[name])]
    assert len(set(ids)) == len(ids)
    assert all(1 <= len(i) <= 64 for i in ids)


def test_volume_follows_the_rate() -> None:
    spec = TrafficSpec(start=START, duration=2_000, rate=3)
    count = len(events_of(spec))
    assert abs(count - spec.rate * spec.duration) <= 0.08 * spec.rate * spec.duration


def test_mix_covers_channels_types_scales_and_kinds() -> None:
    events = all_events()
    assert {e["channel"] for e in events} == {
        "web", "mobile_app", "email", "chat", "messaging", "voice", "store", "social"}
    types = Counter(e["type"] for e in events)
    assert set(types) == {"interaction", "feedback", "followup"}
    assert types["interaction"] > types["feedback"] > types["followup"] > 0
    interactions = [e for e in events if e["type"] == "interaction"]
    assert {e["kind"] for e in interactions} == {
        "visit", "search", "product_view", "add_to_cart", "checkout", "purchase",
        "cart_abandon", "support_contact", "support_resolved", "return_request"}
    assert {e.get("outcome") for e in interactions} == {None, "success", "failure", "abandoned"}
    purchases = [e for e in interactions if e["kind"] == "purchase"]
    assert all("value" in e and "currency" in e for e in purchases)
    feedback = [e for e in events if e["type"] == "feedback"]
    csat = [e for e in feedback if e["survey"] == "csat"]
    assert {e.get("scale") for e in csat} == {None, 5, 10}
    assert any(e["score"] > 5 for e in csat if e.get("scale") == 10)
    assert all("scale" not in e for e in feedback if e["survey"] != "csat")
    assert {e["survey"] for e in feedback} == {"nps", "csat", "ces"}
    assert any("interaction_id" in e for e in feedback)
    assert any("interaction_id" not in e for e in feedback)
    assert any("comment" not in e for e in feedback)
    touchpoints = {e.get("touchpoint") for e in events}
    assert {None, "unspecified", "checkout", "search", "delivery", "returns", "support",
            "product"} <= touchpoints
    assert any("attributes" in e for e in interactions)
    assert any("customer_id" not in e for e in interactions)


def test_feedback_links_point_to_earlier_interactions_of_the_same_scope() -> None:
    events = events_of(SPECS["steady"])
    seen: dict[str, dict[str, Any]] = {}
    linked = 0
    for event in events:
        if event["type"] == "interaction":
            seen[event["event_id"]] = event
        elif event["type"] == "feedback" and "interaction_id" in event:
            source = seen[event["interaction_id"]]  # KeyError: linked to a later/unknown one
            assert (source["tenant"], source["channel"]) == (event["tenant"], event["channel"])
            assert source.get("touchpoint") == event.get("touchpoint")
            linked += 1
    assert linked > 100


SCRIPTS = {
    "arabic": re.compile(r"[\u0600-\u06ff]"),
    "japanese": re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]"),
}


def test_comments_are_multilingual_and_match_the_locale() -> None:
    comments: dict[str, set[str]] = {}
    for event in all_events():
        if "comment" in event:
            comments.setdefault(event["locale"].split("-")[0], set()).add(event["comment"])
    assert {"ar", "fr", "id", "en", "de", "es", "ja"} <= set(comments)
    for language, texts in comments.items():
        assert len(texts) >= 2, language
        for text in texts:
            assert bool(SCRIPTS["arabic"].search(text)) == (language == "ar"), (language, text)
            assert bool(SCRIPTS["japanese"].search(text)) == (language == "ja"), (language, text)
    languages = list(comments)
    for i, a in enumerate(languages):  # each language has its own texts, not English copies
        for b in languages[i + 1:]:
            assert not comments[a] & comments[b], (a, b)
    feedback = [e for e in all_events() if e["type"] == "feedback"]
    with_comment = sum("comment" in e for e in feedback) / len(feedback)
    assert 0.1 < with_comment < 0.7


def test_timestamps_are_ordered_in_range_and_use_real_offsets() -> None:
    offsets = {"id-ID": "+07:00", "fr-FR": "+01:00", "ar": "+03:00", "en-US": "-05:00",
               "en-IN": "+05:30", "ja-JP": "+09:00"}
    for spec in SPECS.values():
        events = events_of(spec)
        instants = [instant_ms(e["occurred_at"]) for e in events]
        assert all(a <= b for a, b in pairwise(instants))  # 0 ms slack
        assert spec.start * 1000 <= instants[0]
        assert instants[-1] < (spec.start + spec.duration) * 1000
        for event in events:
            text = event["occurred_at"]
            expected = offsets.get(event.get("locale", ""))
            if expected and not text.endswith("Z"):
                assert text.endswith(expected), (event["locale"], text)
    stamps = [e["occurred_at"] for e in all_events()]
    non_utc = sum(not s.endswith("Z") and not s.endswith("+00:00") for s in stamps)
    assert 0.3 < non_utc / len(stamps) < 0.9
    assert any(s.endswith("Z") for s in stamps)
    with_ms = sum(bool(re.search(r"\.\d{3}", s)) for s in stamps)
    assert 0.2 < with_ms / len(stamps) < 0.95
    assert {s[-6:] for s in stamps} >= {"+07:00", "+01:00", "+03:00", "-05:00", "+05:30",
                                        "+09:00"}


def test_stamp_matches_datetime_for_any_offset() -> None:
    rng = Random(1)
    for _ in range(5_000):
        ms = rng.randrange(86_400_000, 253_000_000_000_000)  # 1970-01-02 .. 9987
        offset = rng.choice([None, 0, 60, -300, 330, 420, 540, -570, 765, -720])
        with_ms = rng.random() < 0.5
        if not with_ms:
            ms -= ms % 1000
        text = stamp(ms, offset, with_ms)
        assert instant_ms(text) == ms, text
        zone = UTC if offset is None else timezone(timedelta(minutes=offset))
        local = (EPOCH + timedelta(milliseconds=ms)).astimezone(zone)
        expected = local.isoformat(timespec="milliseconds" if with_ms else "seconds")
        assert text == (expected.replace("+00:00", "Z") if offset is None else expected)


def scope_stats(events: tuple[dict[str, Any], ...], spec: TrafficSpec,
                window: bool) -> tuple[float, float, int]:
    incident = incident_of(TrafficSpec(start=spec.start, duration=spec.duration, rate=spec.rate,
                                       scenario="incident", tenants=spec.tenants))
    assert incident is not None
    picked = [e for e in events if e["type"] != "followup"
              and (e["tenant"], e["channel"], e.get("touchpoint")) == (
                  incident.tenant, incident.channel, incident.touchpoint)
              and (not window or incident.start * 1000 <= instant_ms(e["occurred_at"])
                   < incident.end * 1000)]
    interactions = [e for e in picked if e["type"] == "interaction"]
    failure_rate = sum(e.get("outcome") == "failure" for e in interactions) / len(interactions)
    scores = [e["score"] for e in picked if e["type"] == "feedback" and e["survey"] == "nps"]
    ces = [e["score"] for e in picked if e["type"] == "feedback" and e["survey"] == "ces"]
    assert len(scores) >= 15 and len(ces) >= 5, (len(scores), len(ces))
    return failure_rate, nps(scores), len(interactions)


def test_incident_degrades_its_scope_only_during_its_window() -> None:
    steady, incident = BIG["steady"], BIG["incident"]
    window = incident_of(incident)
    assert window is not None and incident_of(steady) is None
    third = incident.duration / 3
    assert incident.start + third <= window.start < window.end <= incident.start + 2 * third
    base_failures, base_nps, base_n = scope_stats(events_of(steady), steady, window=False)
    hit_failures, hit_nps, hit_n = scope_stats(events_of(incident), incident, window=True)
    assert base_failures < 0.1
    assert hit_failures > base_failures + 0.3
    assert hit_nps < base_nps - 40
    assert hit_n > base_n / 3 * 2  # retry storm: more traffic in scope than a third of steady
    events = events_of(incident)
    ces = [e["score"] for e in events if e["type"] == "feedback" and e["survey"] == "ces"
           and window.covers(e["tenant"], e["channel"], e.get("touchpoint"),
                             instant_ms(e["occurred_at"]) / 1000)]
    base_ces = [e["score"] for e in events_of(steady) if e["type"] == "feedback"
                and e["survey"] == "ces"]
    assert sum(ces) / len(ces) < sum(base_ces) / len(base_ces) - 1.5
    # Outside the scope the window looks like a normal day.
    others = [e for e in events if e["type"] == "interaction" and e["tenant"] != window.tenant
              and window.start * 1000 <= instant_ms(e["occurred_at"]) < window.end * 1000]
    assert sum(e.get("outcome") == "failure" for e in others) / len(others) < 0.1


def test_blind_spot_channel_has_interactions_but_no_feedback() -> None:
    spec = SPECS["blind-spot"]
    blind = blind_spot_of(spec)
    assert blind == ("solo", "messaging")
    events = events_of(spec)
    scoped = Counter(e["type"] for e in events if (e["tenant"], e["channel"]) == blind)
    assert scoped["interaction"] > 20 and scoped["feedback"] == 0
    steady = Counter(e["type"] for e in events_of(SPECS["steady"]) if e["channel"] == "messaging")
    assert steady["feedback"] > 0


def test_followups_answer_unhappy_feedback_some_late_some_never() -> None:
    spec = SPECS["long"]
    events = events_of(spec)
    feedback = {e["event_id"]: e for e in events if e["type"] == "feedback"}
    followups = [e for e in events if e["type"] == "followup"]
    assert {e["action"] for e in followups} == {"contacted", "resolved", "no_action"}
    assert any("agent" in e for e in followups) and any("agent" not in e for e in followups)
    first: dict[str, float] = {}  # feedback id -> delay of its first contacted/resolved
    for event in followups:
        source = feedback[event["feedback_id"]]  # KeyError: a follow-up of nothing
        assert needs_followup(source["survey"], source["score"], source.get("scale"))
        assert (event["tenant"], event["channel"]) == (source["tenant"], source["channel"])
        delay = (instant_ms(event["occurred_at"]) - instant_ms(source["occurred_at"])) / 1000
        assert delay > 0
        if event["action"] in ("contacted", "resolved"):
            first.setdefault(source["event_id"], delay)
    end_ms = (spec.start + spec.duration) * 1000
    due = [e for e in feedback.values()
           if needs_followup(e["survey"], e["score"], e.get("scale"))
           and instant_ms(e["occurred_at"]) + FOLLOWUP_SLA_SECONDS * 1000 <= end_ms]
    met = sum(first.get(e["event_id"], math.inf) <= FOLLOWUP_SLA_SECONDS for e in due)
    late = sum(first.get(e["event_id"], 0) > FOLLOWUP_SLA_SECONDS for e in due)
    # Unhappy feedback early enough that even a 5-day-late follow-up would be in the run.
    early = [e for e in due if instant_ms(e["occurred_at"]) <= end_ms - 5.5 * 86_400_000]
    answered = {e["feedback_id"] for e in followups}
    never = sum(e["event_id"] not in answered for e in early)
    print(f"due {len(due)}, met {met}, late {late}, never {never} of {len(early)}")
    assert len(due) >= 50 and len(early) >= 20
    assert late > 0 and never > 0
    assert 0.4 < met / len(due) < 0.95


def test_generate_is_lazy() -> None:
    spec = TrafficSpec(start=START, duration=1e9, rate=1e5)  # 1e14 events: only a stream works
    began = time.perf_counter()
    stream = generate(spec)
    first = [next(stream) for _ in range(1_000)]
    assert time.perf_counter() - began < 5
    assert len({e["event_id"] for e in first}) == 1_000


@pytest.mark.parametrize(("changes", "message"), [
    ({"rate": 0}, "rate must be > 0"),
    ({"rate": -1.5}, "rate must be > 0"),
    ({"rate": float("nan")}, "rate must be a finite number"),
    ({"duration": 0}, "duration must be > 0"),
    ({"duration": float("inf")}, "duration must be a finite number"),
    ({"start": -1}, "start must be"),
    ({"tenants": ()}, "at least one tenant"),
    ({"tenants": ("Acme",)}, "does not match"),
    ({"tenants": ("-acme",)}, "does not match"),
    ({"tenants": ("a" * 65,)}, "does not match"),
    ({"tenants": ("acme", "acme")}, "distinct"),
    ({"tenants": "acme"}, "sequence of tenant names"),
    ({"seed": 1.5}, "seed must be an integer"),
    ({"scenario": "chaos"}, "valid scenarios: steady, incident, blind-spot"),
    ({"degraded_span": 0}, "degraded_span must be > 0 seconds"),
])
def test_bad_specs_are_refused(changes: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"start": START, "duration": 60.0, "rate": 1.0} | changes
    with pytest.raises(ValueError, match=re.escape(message)):
        TrafficSpec(**arguments)


def test_generate_refuses_a_spec_made_invalid_afterwards() -> None:
    spec = TrafficSpec(start=START, duration=60, rate=1)
    object.__setattr__(spec, "scenario", "chaos")
    with pytest.raises(ValueError, match="unknown scenario 'chaos'"):
        generate(spec)  # at call time, before any next()


def test_scenarios_are_described() -> None:
    assert {"steady", "incident", "blind-spot"} <= set(SCENARIOS)
    assert all(isinstance(text, str) and text for text in SCENARIOS.values())


# --- the degradation scenarios: each degrades what it says, where and when it says -----------

NEW = ("nps-drop", "failure-spike", "degraded", "silent-channel", "followup-backlog")
TENANTS = ("acme-shop", "nordwind")
# An hour at a rate where the last third gives hundreds of answers in the affected scope.
HOUR = {name: TrafficSpec(seed=5, start=START, duration=3600, rate=12, scenario=name)
        for name in ("steady", *NEW)}
# 8 days, two tenants, ~30 interactions per hour on the first tenant's web channel.
LOW_RATE = 30 / 3600 / interaction_share(TENANTS, TENANTS[0], "web")
LOW = {name: TrafficSpec(seed=2, start=START, duration=8 * 86400, rate=LOW_RATE,
                         scenario=name, tenants=TENANTS)
       for name in ("steady", *NEW)}
IDS = ("event_id", "interaction_id", "feedback_id")
Found = dict[str, list[dict[str, Any]]]
"""Events of a scope by type."""


def period(spec: TrafficSpec) -> Incident:
    incident = incident_of(spec)
    assert incident is not None
    return incident


@cache
def timed(spec: TrafficSpec) -> tuple[tuple[int, dict[str, Any]], ...]:
    """The events of a spec with their instants (ms), parsed once."""
    return tuple((instant_ms(e["occurred_at"]), e) for e in events_of(spec))


def scoped(spec: TrafficSpec, tenant: str, channel: str | None = None,
           touchpoint: str | None = None, since: float = 0, until: float = math.inf,
           ) -> Found:
    """The events of a scope (None: any) in [since, until) seconds, by type."""
    found: Found = {"interaction": [], "feedback": [], "followup": []}
    low, high = since * 1000, until * 1000
    for ms, event in timed(spec):
        if (low <= ms < high and event["tenant"] == tenant
                and channel in (None, event["channel"])
                and touchpoint in (None, event.get("touchpoint"))):
            found[event["type"]].append(event)
    return found


def about_as_many(mine: list[Any], theirs: list[Any]) -> bool:
    """Counts of two runs that differ by no more than Poisson noise (4 sigma)."""
    return abs(len(mine) - len(theirs)) <= 4 * math.sqrt(len(mine) + len(theirs))


def in_period(runs: dict[str, TrafficSpec], name: str, channel: str,
              touchpoint: str | None = None) -> tuple[dict[str, float], Found, Found]:
    """The period's span, and the first tenant's scope in it: in the scenario, in steady."""
    window = period(runs[name])
    span = {"since": window.start, "until": window.end}
    return (span, scoped(runs[name], "acme-shop", channel, touchpoint, **span),
            scoped(runs["steady"], "acme-shop", channel, touchpoint, **span))


def failure_share(found: Found) -> float:
    interactions = found["interaction"]
    return sum(e.get("outcome") == "failure" for e in interactions) / len(interactions)


def nps_of(found: Found) -> float:
    return nps([e["score"] for e in found["feedback"] if e["survey"] == "nps"])


def satisfaction(found: Found) -> float:
    """Mean answer on a 0..1 scale over every survey: enough answers even at low volume."""
    top = {"nps": (0, 10), "ces": (1, 7)}
    levels = []
    for event in found["feedback"]:
        low, high = top.get(event["survey"], (1, event.get("scale") or 5))
        levels.append((event["score"] - low) / (high - low))
    return sum(levels) / len(levels)


def test_every_scenario_has_effects_and_a_description() -> None:
    assert set(EFFECTS) == set(SCENARIOS)
    assert list(SCENARIOS)[:3] == ["steady", "incident", "blind-spot"]
    assert set(NEW) < set(SCENARIOS)


def test_generate_help_lists_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split()).replace("- ", "-")
    assert all(name in text for name in SCENARIOS), text


@pytest.mark.parametrize(("name", "channel", "touchpoint", "metrics"), [
    ("incident", "mobile_app", "checkout", ("nps", "failure_rate")),
    ("nps-drop", "web", None, ("nps",)),
    ("failure-spike", "web", "checkout", ("failure_rate",)),
    ("degraded", "web", None, ("nps", "failure_rate")),
    ("silent-channel", "mobile_app", None, ("silent_channel",)),
    ("followup-backlog", None, None, ("followup_sla", "followup_overdue")),
])
def test_incident_of_names_scope_period_and_metrics(name: str, channel: str | None,
                                                    touchpoint: str | None,
                                                    metrics: tuple[str, ...]) -> None:
    for spec in (HOUR.get(name, BIG["incident"]), LOW.get(name)):
        if spec is None:
            continue
        incident = incident_of(spec)
        assert incident is not None
        assert (incident.tenant, incident.channel, incident.touchpoint, incident.metrics) == (
            spec.tenants[0], channel, touchpoint, metrics)
        end = spec.start + spec.duration
        if name == "incident":
            span = (spec.start + spec.duration / 3, spec.start + 2 * spec.duration / 3)
        elif name == "followup-backlog":
            span = (spec.start + spec.duration / 2, end)
        else:
            span = (end - min(spec.duration / 3, DEGRADED_SPAN), end)
        assert (incident.start, incident.end) == pytest.approx(span)
    assert incident_of(HOUR["steady"]) is None and incident_of(SPECS["blind-spot"]) is None
    assert LOW["degraded"].start + LOW["degraded"].duration - period(LOW["degraded"]).start == (
        3 * 3600)
    longer = replace(LOW["degraded"], degraded_span=6 * 3600.0)
    assert longer.start + longer.duration - period(longer).start == 6 * 3600


def test_a_whole_channel_incident_covers_its_touchpoints_only_in_its_period() -> None:
    incident = period(HOUR["degraded"])
    inside = (incident.start + incident.end) / 2
    assert incident.covers("acme-shop", "web", "checkout", inside)
    assert incident.covers("acme-shop", "web", None, inside)
    assert not incident.covers("acme-shop", "mobile_app", "checkout", inside)
    assert not incident.covers("nordwind", "web", "checkout", inside)
    assert not incident.covers("acme-shop", "web", "checkout", incident.start - 1)
    backlog = period(LOW["followup-backlog"])
    assert backlog.covers("acme-shop", "voice", None, backlog.start)
    assert not backlog.covers("nordwind", "voice", None, backlog.start)


@pytest.mark.parametrize("name", NEW)
def test_before_its_period_a_scenario_is_steady_traffic(name: str) -> None:
    """Same seed, same draws: until the degradation starts only the ids differ from steady."""
    runs = LOW
    cut_ms = (period(runs[name]).start - 5) * 1000

    def before(spec: TrafficSpec) -> list[dict[str, Any]]:
        return [{k: v for k, v in e.items() if k not in IDS} for ms, e in timed(spec)
                if ms < cut_ms]

    mine = before(runs[name])
    assert len(mine) > 1_000
    assert mine == before(runs["steady"])


@pytest.mark.parametrize("runs", [HOUR, LOW], ids=["hour", "low"])
def test_nps_drop_lowers_the_answers_of_one_channel_in_its_period(
        runs: dict[str, TrafficSpec]) -> None:
    spec, steady = runs["nps-drop"], runs["steady"]
    span, hit, base = in_period(runs, "nps-drop", "web")
    print(f"{len(hit['feedback'])} web answers, NPS {nps_of(base):.0f} -> {nps_of(hit):.0f}")
    assert nps_of(base) - nps_of(hit) > 80
    assert satisfaction(hit) < satisfaction(base) - 0.2
    # Interactions unchanged: as many, failing as rarely.
    assert about_as_many(hit["interaction"], base["interaction"])
    assert failure_share(hit) < 0.08
    if runs is LOW:
        return
    for survey in ("csat", "ces"):
        mine = [e["score"] for e in hit["feedback"] if e["survey"] == survey]
        theirs = [e["score"] for e in base["feedback"] if e["survey"] == survey]
        assert sum(mine) / len(mine) < sum(theirs) / len(theirs) - 0.3, survey
    # Other scopes in the same period answer as usual.
    for tenant, channel in (("acme-shop", "mobile_app"), ("nordwind", "web")):
        mine = scoped(spec, tenant, channel, **span)
        theirs = scoped(steady, tenant, channel, **span)
        assert abs(satisfaction(mine) - satisfaction(theirs)) < 0.03, (tenant, channel)


@pytest.mark.parametrize("runs", [HOUR, LOW], ids=["hour", "low"])
def test_failure_spike_fails_one_touchpoint_in_its_period(runs: dict[str, TrafficSpec]) -> None:
    spec = runs["failure-spike"]
    span, hit, base = in_period(runs, "failure-spike", "web", "checkout")
    print(f"{len(hit['interaction'])} checkouts, "
          f"failures {failure_share(base):.3f} -> {failure_share(hit):.3f}")
    assert failure_share(base) < 0.1
    assert about_as_many(hit["interaction"], base["interaction"])  # no retry storm
    if runs is LOW:  # a dozen or so checkouts: only clearly more failures
        assert failure_share(hit) > 0.25
        return
    assert 0.38 <= failure_share(hit) <= 0.52
    assert nps_of(hit) < nps_of(base) - 20  # its customers answer worse
    before = scoped(spec, "acme-shop", "web", "checkout", until=span["since"] - 5)
    assert failure_share(before) < 0.06
    # The rest of the channel and the other tenant's checkout fail as usual.
    rest = scoped(spec, "acme-shop", "web", **span)
    rest["interaction"] = [e for e in rest["interaction"] if e.get("touchpoint") != "checkout"]
    assert failure_share(rest) < 0.06
    assert failure_share(scoped(spec, "nordwind", "web", "checkout", **span)) < 0.06


@pytest.mark.parametrize("runs", [HOUR, LOW], ids=["hour", "low"])
def test_degraded_fails_and_saddens_a_whole_channel_in_its_period(
        runs: dict[str, TrafficSpec]) -> None:
    spec = runs["degraded"]
    span, hit, base = in_period(runs, "degraded", "web")
    print(f"{len(hit['interaction'])} web interactions, {len(hit['feedback'])} answers; "
          f"failures {failure_share(base):.3f} -> {failure_share(hit):.3f}; "
          f"satisfaction {satisfaction(base):.2f} -> {satisfaction(hit):.2f}")
    assert failure_share(base) < 0.06
    assert 0.27 <= failure_share(hit) <= 0.43
    assert satisfaction(hit) < satisfaction(base) - 0.1
    assert about_as_many(hit["interaction"], base["interaction"])
    if runs is HOUR:  # every touchpoint fails more, and NPS falls far
        by_touchpoint = Counter(e.get("touchpoint") for e in hit["interaction"])
        for touchpoint in ("checkout", "product", "search", "unspecified"):
            found = {"interaction": [e for e in hit["interaction"]
                                     if e.get("touchpoint") == touchpoint]}
            assert by_touchpoint[touchpoint] > 50 and failure_share(found) > 0.25, touchpoint
        assert nps_of(hit) < nps_of(base) - 50
    for tenant, channel in (("acme-shop", "mobile_app"), ("nordwind", "web")):
        other = scoped(spec, tenant, channel, **span)
        assert failure_share(other) < 0.06, (tenant, channel)


@pytest.mark.parametrize("runs", [HOUR, LOW], ids=["hour", "low"])
def test_silent_channel_collects_no_feedback_in_its_period(
        runs: dict[str, TrafficSpec]) -> None:
    spec, steady = runs["silent-channel"], runs["steady"]
    window = period(spec)
    span = {"since": window.start + 1, "until": window.end}  # +1 s: an answer's clock rounding
    hit = scoped(spec, "acme-shop", "mobile_app", **span)
    base = scoped(steady, "acme-shop", "mobile_app", **span)
    assert hit["feedback"] == [] and len(base["feedback"]) > 10
    assert len(hit["interaction"]) > 50
    assert about_as_many(hit["interaction"], base["interaction"])
    before = scoped(spec, "acme-shop", "mobile_app", until=window.start)
    assert len(before["feedback"]) > 0.1 * len(before["interaction"])
    for tenant, channel in (("acme-shop", "web"), ("nordwind", "mobile_app")):
        assert about_as_many(scoped(spec, tenant, channel, **span)["feedback"],
                             scoped(steady, tenant, channel, **span)["feedback"])


def cases_due(spec: TrafficSpec, tenant: str, since: float = 0) -> tuple[int, int]:
    """(due, met): the tenant's cases opened since ``since`` whose deadline is in the run, and
    those with a contact or resolution by the deadline."""
    end_ms = (spec.start + spec.duration) * 1000
    answered: dict[str, int] = {}
    for ms, event in timed(spec):
        if event["type"] == "followup" and event["action"] in ("contacted", "resolved"):
            answered.setdefault(event["feedback_id"], ms)
    deadlines = [(ms + FOLLOWUP_SLA_SECONDS * 1000, e["event_id"]) for ms, e in timed(spec)
                 if e["type"] == "feedback" and e["tenant"] == tenant and ms >= since * 1000
                 and needs_followup(e["survey"], e["score"], e.get("scale"))]
    due = [(deadline, i) for deadline, i in deadlines if deadline <= end_ms]
    return len(due), sum(answered.get(i, math.inf) <= deadline for deadline, i in due)


def test_followup_backlog_stops_one_tenants_followups_and_its_cases_go_overdue() -> None:
    spec, steady = LOW["followup-backlog"], LOW["steady"]
    window = period(spec)
    span = {"since": window.start, "until": window.end}
    assert scoped(spec, "acme-shop", **span)["followup"] == []
    assert len(scoped(steady, "acme-shop", **span)["followup"]) > 50
    mine = len(scoped(spec, "nordwind", **span)["followup"])
    theirs = len(scoped(steady, "nordwind", **span)["followup"])
    assert abs(mine - theirs) < 0.3 * theirs and theirs > 20
    before = scoped(spec, "acme-shop", until=window.start)
    assert len(before["followup"]) > 50
    # Answers are not touched: as many unhappy ones keep coming.
    assert abs(len(scoped(spec, "acme-shop", **span)["feedback"])
               - len(scoped(steady, "acme-shop", **span)["feedback"])) < 60
    # Its cases miss their deadlines: the SLA of those opened in the period falls to 0 ...
    due, met = cases_due(spec, "acme-shop", window.start)
    usual_due, usual_met = cases_due(steady, "acme-shop", window.start)
    print(f"cases opened in the period and due: met {usual_met}/{usual_due} steady, "
          f"{met}/{due} with the backlog")
    assert due > 30 and met == 0 and usual_met > 0.6 * usual_due
    # ... and those past their deadline at the end pile up.
    due, met = cases_due(spec, "acme-shop")
    usual_due, usual_met = cases_due(steady, "acme-shop")
    print(f"overdue at the end: {usual_due - usual_met} steady, {due - met} with the backlog")
    assert due - met >= usual_due - usual_met + 30
    due, met = cases_due(spec, "nordwind", window.start)
    assert met > 0.6 * due  # the other tenant's agents work as usual


@pytest.mark.parametrize("name", NEW)
def test_new_scenarios_pass_the_contract_in_order(name: str) -> None:
    spec = LOW[name]
    validator = Validator(max_event_bytes=65_536, max_age_seconds=int(spec.duration) + 86_400)
    now = spec.start + spec.duration
    instants = []
    for event in events_of(spec):
        result = validator.check(orjson.dumps(event), TOPIC_OF_TYPE[event["type"]], now)
        assert isinstance(result, ValidEvent), (result, event)
        instants.append(result.occurred_ms)
    assert all(a <= b for a, b in pairwise(instants))
    assert spec.start * 1000 <= instants[0] and instants[-1] < now * 1000


@pytest.mark.parametrize("name", NEW)
def test_new_scenarios_are_deterministic(name: str) -> None:
    spec = replace(LOW[name], duration=2 * 86400)  # long enough for every effect to act
    first = b"".join(orjson.dumps(e) for e in generate(spec))
    assert first == b"".join(orjson.dumps(e) for e in generate(replace(spec)))
    assert first != b"".join(orjson.dumps(e) for e in generate(replace(spec, seed=spec.seed + 1)))


@pytest.mark.parametrize("tenants", [TENANTS, ("acme-shop", "nordwind", "kiosk")])
def test_interactions_per_hour_matches_the_generated_counts(tenants: tuple[str, ...]) -> None:
    rate = 30 / 3600 / interaction_share(tenants, tenants[0], "web")
    spec = replace(LOW["steady"], rate=rate, tenants=tenants)  # two tenants: LOW["steady"]
    assert interactions_per_hour(spec, tenants[0], "web") == pytest.approx(30)
    hours = spec.duration / 3600
    counts = Counter((e["tenant"], e["channel"]) for e in events_of(spec)
                     if e["type"] == "interaction")
    for tenant, channel in ((tenants[0], "web"), (tenants[-1], "web"),
                            (tenants[0], "mobile_app"), (tenants[-1], "voice")):
        expected = interactions_per_hour(spec, tenant, channel)
        assert counts[tenant, channel] / hours == pytest.approx(expected, rel=0.1), (
            tenant, channel)
    print(f"{tenants}: rate {rate:.4f}/s gives 30 interactions/h on the first tenant's web")


def test_revised_answers_come_as_the_score_then_the_comment_as_revision_1() -> None:
    plain = SPECS["steady"]
    revised = replace(plain, revised=0.5)
    events = list(generate(revised))
    firsts = {e["event_id"]: i for i, e in enumerate(events)
              if e["type"] == "feedback" and "revision" not in e}
    amended = [(i, e) for i, e in enumerate(events) if e.get("revision")]
    assert len(amended) > 10
    for index, event in amended:
        first = events[firsts[event["event_id"]]]
        assert firsts[event["event_id"]] < index and "comment" in event
        assert {k: v for k, v in event.items() if k not in ("comment", "revision")} == first
    # Without revisions a seed's traffic stays what it was.
    assert list(generate(replace(plain, revised=0.0))) == list(events_of(plain))
    with pytest.raises(ValueError, match="revised"):
        replace(plain, revised=1.5)
