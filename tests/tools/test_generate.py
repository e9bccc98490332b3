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
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from itertools import pairwise
from random import Random
from typing import Any

import orjson
import pytest

from streams.core.contract import TOPIC_OF_TYPE, Validator, ValidEvent
from streams.tools.generate import (
    FOLLOWUP_SLA_SECONDS,
    SCENARIOS,
    TrafficSpec,
    blind_spot_of,
    generate,
    incident_of,
    needs_followup,
    stamp,
)

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
