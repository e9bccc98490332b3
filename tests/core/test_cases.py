"""Follow-up cases: state from time, and a version under which the true row always wins."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.core.cases import CASE_COLUMNS, case_row, case_state, case_version, met_by
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
        "met_at": None, "followup_action": "", "version": 0}
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
