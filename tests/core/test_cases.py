"""Follow-up cases: state from time, and a version under which the true row always wins."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from streams.core.cases import (
    CASE_COLUMNS,
    MET_SPAN_MS,
    case_row,
    case_state,
    case_version,
    met_by,
    withdrawn_case,
)
from streams.core.events import MAX_REVISION
from streams.core.facts import CLOSING_ACTIONS, Answer, closing_rank

HOUR = 3_600_000
DEADLINE = 48 * HOUR
OPENED = 1_795_344_000_250  # 2026-11-22T10:40:00.250Z
ANSWER = Answer("fb-1", ("acme-shop", "web", "checkout"), OPENED, "nps", 3, 0, "c-9", "slow")


def row(met: tuple[int, str] | None) -> dict:
    return dict(zip(CASE_COLUMNS, case_row(ANSWER, met, DEADLINE), strict=True))


def test_a_case_is_open_until_due_then_overdue_unless_met() -> None:
    due = OPENED + DEADLINE
    assert case_state(False, due, OPENED) == "open"
    assert case_state(False, due, due) == "open"  # a follow-up now would still be in time
    assert case_state(False, due, due + 1) == "overdue"
    assert case_state(True, due, due + 10 * HOUR) == "met"


def test_the_row_carries_the_feedback_and_its_deadline() -> None:
    unmet = row(None)
    assert unmet == {
        "tenant": "acme-shop", "channel": "web", "touchpoint": "checkout", "feedback_id": "fb-1",
        "customer_id": "c-9", "survey": "nps", "score": 3, "scale": 0, "comment": "slow",
        "opened_at": 1_795_344_000, "opened_ms": 250, "due_at": 1_795_344_000 + 48 * 3600,
        "met_at": None, "followup_action": "", "version": 0, "revision": 0, "withdrawn": 0}
    met = row((OPENED + HOUR, "resolved"))
    assert (met["met_at"], met["followup_action"]) == (1_795_344_000 + 3600, "resolved")
    assert met["version"] > 0


def test_only_a_follow_up_in_time_meets_the_case() -> None:
    due = OPENED + DEADLINE
    assert met_by(ANSWER, (due, "contacted"), DEADLINE) == (due, "contacted")
    assert met_by(ANSWER, (due + 1, "contacted"), DEADLINE) is None
    assert met_by(ANSWER, None, DEADLINE) is None
    # As the SLA counts it: a follow-up stamped before the feedback (clock skew) meets it.
    assert met_by(ANSWER, (OPENED - HOUR, "resolved"), DEADLINE) == (OPENED - HOUR, "resolved")


def test_earlier_follow_ups_have_higher_versions() -> None:
    due = OPENED + DEADLINE
    assert case_version(due, None) == 0
    assert case_version(due, (due, "resolved")) == 1  # the latest possible still beats unmet
    assert case_version(due, (due, "contacted")) == 2  # same instant: contacted counts first
    assert case_version(due, (OPENED, "resolved")) > case_version(due, (OPENED + 1, "contacted"))


closings = st.lists(st.tuples(st.integers(OPENED - HOUR, OPENED + DEADLINE + HOUR),
                              st.sampled_from(CLOSING_ACTIONS)), min_size=1, max_size=6)


@given(closings, st.randoms())
def test_the_highest_version_is_the_row_of_all_follow_ups_whatever_the_order(
        followups: list[tuple[int, str]], rng) -> None:
    """Each write sees some of the follow-ups (those arrived so far, or any subset when
    workers race); the row kept (highest version) is the one that sees them all."""
    def written(seen: list[tuple[int, str]]) -> tuple:
        first = min(seen, key=lambda c: closing_rank(*c)) if seen else None
        return case_row(ANSWER, met_by(ANSWER, first, DEADLINE), DEADLINE)

    truth = written(followups)
    rows = [written([])] + [written(rng.sample(followups, rng.randint(1, len(followups))))
                            for _ in range(8)] + [truth]
    version = CASE_COLUMNS.index("version")
    best = max(r[version] for r in rows)
    assert {r for r in rows if r[version] == best} == {truth}


def test_a_higher_revision_always_wins_and_within_one_the_earlier_met() -> None:
    due = OPENED + DEADLINE
    earliest = case_version(due, (due - MET_SPAN_MS - 5 * HOUR, "contacted"))
    assert earliest == case_version(due, (due - MET_SPAN_MS, "contacted"))  # bounded
    assert case_version(due, None, 1) > earliest
    assert case_version(due, (due, "resolved"), 1) > case_version(due, None, 1)
    assert case_version(due, (OPENED, "contacted"), 3) > case_version(due, (OPENED + 1,
                                                                              "contacted"), 3)
    assert case_version(due, (OPENED, "contacted"), MAX_REVISION) < 2**64


@given(st.lists(st.tuples(st.integers(0, 5), st.none() | st.tuples(
    st.integers(OPENED - HOUR, OPENED + DEADLINE), st.sampled_from(CLOSING_ACTIONS))),
    min_size=1, max_size=8))
def test_rows_of_the_highest_revision_outrank_every_other(
        writes: list[tuple[int, tuple[int, str] | None]]) -> None:
    version = CASE_COLUMNS.index("version")
    rows = [case_row(dataclasses.replace(ANSWER, revision=revision), met, DEADLINE)
            for revision, met in writes]
    top = max(revision for revision, _ in writes)
    best = max(rows, key=lambda r: r[version])
    assert best[CASE_COLUMNS.index("revision")] == top


def test_a_withdrawn_case_outranks_the_older_revisions_case() -> None:
    met = case_row(ANSWER, (OPENED + HOUR, "contacted"), DEADLINE)
    gone = dict(zip(CASE_COLUMNS, withdrawn_case(ANSWER, 1, DEADLINE), strict=True))
    assert gone["withdrawn"] == 1 and gone["revision"] == 1
    assert gone["version"] > met[CASE_COLUMNS.index("version")]
    assert gone["feedback_id"] == "fb-1" and gone["tenant"] == "acme-shop"
