"""The traffic of ``cxpulse bench comments``: comments nobody wrote before, in the event's
language, about as long as real ones (a long tail included), with the few stock replies
that do repeat. (The bench itself runs real workers for minutes: the lead runs it, the
tests check what it feeds.)"""

from __future__ import annotations

import statistics
import time
from collections import Counter

from streams.comments.classify import Classifier
from streams.comments.corpus import TEST_FILE, TRAIN_FILE, read_corpus
from streams.tools.bench.comments import STOCK, mix, unique_comments, verdict


def test_nearly_every_comment_is_new_and_in_its_language() -> None:
    events = list(mix(seed=5, count=20_000, now=time.time()))
    comments = [e for e in events if e.get("comment")]
    texts = [e["comment"] for e in comments]
    assert len(events) == 20_000 and 600 < len(texts) < 1200
    assert len(set(texts)) / len(texts) > 0.97
    assert 0.005 < sum(text in STOCK for text in texts) / len(texts) < 0.05
    corpus = [item.comment for path in (TRAIN_FILE, TEST_FILE) for item in read_corpus(path)]
    assert len(set(texts) & set(corpus)) / len(texts) < 0.5  # recombined, not copied
    mean = statistics.mean(map(len, texts))
    assert 0.8 < mean / statistics.mean(map(len, corpus)) < 1.4
    assert 0.02 < sum(len(text) > 300 for text in texts) / len(texts) < 0.1  # the long tail
    assert len({e["event_id"] for e in events}) == len(events)
    sample = [(e["comment"], e["locale"]) for e in comments
              if e["comment"] not in STOCK and e["locale"][:2] in ("fr", "de", "id", "es")][:80]
    found = Classifier().classify(sample)
    agree = Counter(i.language == locale[:2] for i, (_, locale) in zip(found, sample,
                                                                       strict=True))
    assert agree[True] / len(sample) > 0.9, agree


def test_comments_are_replaced_one_for_one_and_repeat_with_the_seed() -> None:
    events = [{"event_id": str(i), "type": "feedback", "locale": "pt-BR", "comment": "Ótimo"}
              for i in range(50)] + [{"event_id": "x", "type": "interaction"}]
    once, again = list(unique_comments(events, 3)), list(unique_comments(events, 3))
    assert once == again and len(once) == 51 and once[-1] == events[-1]
    assert len({e["comment"] for e in once[:50]}) >= 48


def test_the_verdict_names_a_missed_target_and_the_ceiling() -> None:
    cell = {"comments_per_s": 40.0, "cores": 1.0, "per_cpu_s": 40.0}
    results = {"ceiling_threads_1": {"batch_1": cell, "short_ms": 20.0},
               "ceiling_threads_2": {"batch_1": cell | {"comments_per_s": 70.0}},
               "worker": {"unique_comments_per_s": 38.5, "ingest_share": 0.93}}
    lines = verdict(results)
    assert "70.0" in lines[0]
    assert "38.5" in lines[1] and "MISSED" in lines[1]
    assert "93%" in lines[2] and "met" in lines[2]
