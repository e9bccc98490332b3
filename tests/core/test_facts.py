"""Fact versions: under ReplacingMergeTree(version) the highest revision's fact always wins."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from streams.core.facts import (
    COMMENT_FACT_PREFIX,
    FACT_COLUMNS,
    Answer,
    comment_fact,
    tombstones,
)
from streams.core.stats import STAT_COLUMNS

VERSION = FACT_COLUMNS.index("version")
ANSWER = Answer("fb-1", ("acme", "web", "checkout"), 1_795_344_000_250, "nps", 3, 0)
STATS = slice(FACT_COLUMNS.index(STAT_COLUMNS[0]), VERSION)


def test_a_feedback_fact_is_versioned_by_revision_then_met() -> None:
    assert ANSWER.fact(met=False)[VERSION] == 0
    assert ANSWER.fact(met=True)[VERSION] == 1
    later = dataclasses.replace(ANSWER, revision=4)
    assert later.fact(met=False)[VERSION] == 8 > ANSWER.fact(met=True)[VERSION]
    assert later.key == ("acme", "web", "checkout", 1_795_344_000)
    assert len(later.fact(met=True)) == len(FACT_COLUMNS)


def test_tombstones_are_zero_and_outrank_every_older_revision_at_their_key() -> None:
    key = ("acme", "web", "search", 1_795_340_400)
    facts = tombstones("fb-1", key, 3, comment=True)
    assert [fact[4] for fact in facts] == ["fb-1", COMMENT_FACT_PREFIX + "fb-1"]
    assert all(fact[:4] == key and not any(fact[STATS]) for fact in facts)
    older = [dataclasses.replace(ANSWER, revision=2).fact(met=True),
             comment_fact("fb-1", ANSWER.scope, ANSWER.occurred_ms, -0.5, "negative", (), 2)]
    assert min(fact[VERSION] for fact in facts) > max(fact[VERSION] for fact in older)
    # ... but never a later revision's fact there (a revision may move back).
    assert dataclasses.replace(ANSWER, revision=4).fact(met=False)[VERSION] > facts[0][VERSION]
    assert tombstones("fb-1", key, 3, comment=False) == facts[:1]


def test_a_revision_without_a_comment_writes_a_zero_comment_fact() -> None:
    gone = comment_fact("fb-1", ANSWER.scope, ANSWER.occurred_ms, 0.0, "", (), 2,
                        present=False)
    assert not any(gone[STATS]) and gone[VERSION] == 4
    kept = comment_fact("fb-1", ANSWER.scope, ANSWER.occurred_ms, 0.9, "positive", (), 1)
    assert any(kept[STATS]) and kept[VERSION] < gone[VERSION]


@given(st.lists(st.tuples(st.integers(0, 50), st.booleans()), min_size=1, max_size=10))
def test_the_highest_version_is_the_highest_revision(writes: list[tuple[int, bool]]) -> None:
    facts = [dataclasses.replace(ANSWER, revision=revision).fact(met)
             for revision, met in writes]
    top = max(revision for revision, _ in writes)
    best = max(fact[VERSION] for fact in facts)
    assert best // 2 == top
