"""Per-response triggers: exact cases for scores and keywords, and the message itself."""

from __future__ import annotations

import orjson
import pytest

from streams.core.contract import Validator
from streams.core.triggers import (
    DEFAULT_KEYWORDS,
    case_opened,
    latest_feedback,
    notice,
    parse_keywords,
    score_trigger,
    triggers,
)
from tests.support.events import stamp

KEYWORDS = DEFAULT_KEYWORDS


@pytest.mark.parametrize(("survey", "score", "expected"), [
    ("nps", 0, "nps_detractor"), ("nps", 6, "nps_detractor"), ("nps", 7, None),
    ("nps", 10, None), ("csat", 1, "csat_lowest"), ("csat", 2, None),
    ("ces", 1, "ces_lowest"), ("ces", 2, None), ("ces", 7, None),
])
def test_score_triggers(survey: str, score: int, expected: str | None) -> None:
    assert score_trigger(survey, score) == expected


@pytest.mark.parametrize(("comment", "expected"), [
    ("I want a REFUND now", ["keyword:refund"]),
    ("Refund! Refund?", ["keyword:refund"]),
    ("refunded already, thanks", []),  # whole words only
    ("cancellation was easy", []),
    ("please cancel.", ["keyword:cancel"]),
    ("Never\n  AGAIN, call my lawyer", ["keyword:lawyer", "keyword:never again"]),
    ("never, again", []),
    ("neveragain", []),
    ("", []),
    ("a complaint about the refund", ["keyword:refund", "keyword:complaint"]),
])
def test_keywords_match_whole_words_in_any_case(comment: str, expected: list[str]) -> None:
    assert triggers("nps", 9, comment, KEYWORDS) == expected


def test_score_trigger_comes_first_then_keywords_in_configured_order() -> None:
    assert triggers("csat", 1, "Lawyer. Refund.", ("lawyer", "refund")) == [
        "csat_lowest", "keyword:lawyer", "keyword:refund"]
    assert triggers("csat", 1, "refund", ()) == ["csat_lowest"]
    assert triggers("ces", 5, "Rückerstattung sofort", ("rückerstattung",)) == [
        "keyword:rückerstattung"]


@pytest.mark.parametrize(("text", "expected"), [
    ("cancel,refund", ("cancel", "refund")),
    (" Refund , never   again ,refund", ("refund", "never again")),
    ("none", ()),
    ("NONE", ()),
])
def test_parse_keywords(text: str, expected: tuple[str, ...]) -> None:
    assert parse_keywords(text) == expected


def test_parse_keywords_rejects_an_empty_list() -> None:
    with pytest.raises(ValueError, match="no keywords"):
        parse_keywords(" , ,")


NOW = 1_795_344_000.0


def feedback(event_id: str, **fields) -> object:
    event = {"event_id": event_id, "type": "feedback", "occurred_at": stamp(NOW - 3600.5, 60),
             "tenant": "acme-shop", "channel": "chat", "survey": "nps", "score": 9} | fields
    return Validator(max_event_bytes=65536, max_age_seconds=86400).check(
        orjson.dumps(event), "cx.feedback", NOW)


def test_the_message_carries_the_case() -> None:
    message = orjson.loads(case_opened(feedback("f-1", score=2, customer_id="c-7",
                                                comment="never again"), KEYWORDS, 48 * 3600_000))
    assert message == {
        "type": "case_opened", "event_id": "f-1", "tenant": "acme-shop", "channel": "chat",
        "touchpoint": "unspecified", "customer_id": "c-7", "survey": "nps", "score": 2,
        "scale": None, "comment": "never again", "occurred_at": "2026-11-22T09:39:59.500Z",
        "due_at": "2026-11-24T09:39:59.500Z", "triggers": ["nps_detractor", "keyword:never again"],
        "sla": True, "revision": 0}


def test_a_keyword_on_a_happy_answer_pages_but_is_no_sla_case() -> None:
    message = orjson.loads(case_opened(feedback("f-2", survey="csat", scale=10, score=9,
                                                comment="refund"), KEYWORDS, 3600_000))
    assert (message["triggers"], message["sla"], message["scale"]) == (
        ["keyword:refund"], False, 10)


def test_a_batch_sends_each_triggered_feedback_once() -> None:
    events = [feedback("f-1", score=0), feedback("f-2", score=10), feedback("f-1", score=0),
              feedback("f-3", survey="ces", score=1)]
    assert list(latest_feedback(events, KEYWORDS)) == ["f-1", "f-3"]


def sent_kind(sent: tuple[int, str] | None, **fields) -> str | None:
    found = notice(feedback("f-9", **fields), KEYWORDS, 3600_000, sent)
    return None if found is None else found[2]


def test_a_later_revision_updates_or_withdraws_once_and_an_older_one_sends_nothing() -> None:
    assert sent_kind(None, score=2, revision=3) == "case_opened"
    assert sent_kind(None, score=9, revision=3) is None
    assert sent_kind((0, "case_opened"), score=4, revision=1) == "case_updated"
    assert sent_kind((0, "case_opened"), score=9, revision=1) == "case_withdrawn"
    assert sent_kind((1, "case_withdrawn"), score=10, revision=2) is None
    assert sent_kind((1, "case_withdrawn"), score=1, revision=2) == "case_updated"
    assert sent_kind((2, "case_updated"), score=1, revision=2) is None  # sent for it already
    assert sent_kind((2, "case_updated"), score=9, revision=1) is None  # stale
    found = notice(feedback("f-9", score=9, revision=5), KEYWORDS, 3600_000, (0, "case_opened"))
    assert found is not None and found[:3] == ("f-9", 5, "case_withdrawn")
    message = orjson.loads(found[3])
    assert (message["type"], message["revision"], message["triggers"]) == (
        "case_withdrawn", 5, [])


def test_the_batch_keeps_its_latest_revision_and_every_revision_is_looked_up() -> None:
    events = [feedback("f-1", score=2, revision=2), feedback("f-1", score=9, revision=1),
              feedback("f-2", score=9, revision=1), feedback("f-3", score=9)]
    latest = latest_feedback(events, KEYWORDS)
    assert list(latest) == ["f-1", "f-2"]  # f-3 neither triggers nor revises anything
    assert latest["f-1"].event.revision == 2  # type: ignore[union-attr]
