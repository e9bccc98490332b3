"""The enrichment edge: feedback messages in, comment insights and comment minutes out.

Runs in the Faust agent on ``cx.feedback`` (its own consumer group, the app's),
apart from the batch ingest, so a slow model never holds raw events back.
Every step is idempotent, as in scoring: an insight row is keyed by event id,
a comment fact by scope, minute and event id, and minutes are recomputed from
the stored facts, so a replay after a crash or a duplicate changes nothing.
Messages that fail the contract are left to the ingest, which dead-letters them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from streams.comments.classify import Classifier
from streams.comments.labels import Insight
from streams.comments.pii import mask
from streams.core.contract import Validator, ValidEvent
from streams.kafka import TOPIC_OF_TYPE
from streams.worker import metrics

FEEDBACK_TOPIC = TOPIC_OF_TYPE["feedback"]


@dataclass(frozen=True, slots=True)
class Enriched:
    """One feedback comment, masked, with what it says."""

    valid: ValidEvent
    comment: str
    """The comment with personal data masked: the only form that is ever stored."""
    masked: int
    """How many spans of personal data were masked."""
    insight: Insight


Store = Callable[[list[Enriched], str], int]
"""Write insights and their minutes (given the model version); returns the minutes rewritten."""


class Enricher:
    """Validate, mask, classify and store one batch of feedback messages."""

    def __init__(self, validator: Validator, classifier: Classifier, store: Store,
                 pii_kinds: frozenset[str]) -> None:
        self._validator = validator
        self._classifier = classifier
        self._store = store
        self._pii_kinds = pii_kinds

    def pick(self, payloads: Sequence[bytes], now: float) -> list[tuple[ValidEvent, str, int]]:
        """The valid feedback with a non-blank comment, each comment masked."""
        out = []
        for raw in payloads:
            valid = self._validator.check(raw, FEEDBACK_TOPIC, now)
            if not isinstance(valid, ValidEvent) or valid.type != "feedback":
                continue
            comment = valid.event.comment  # type: ignore[union-attr]
            if not isinstance(comment, str) or not comment.strip():
                continue
            masked, found = mask(comment, self._pii_kinds)
            for kind, count in found.items():
                metrics.PII_MASKED.labels(kind).inc(count)
            out.append((valid, masked, sum(found.values())))
        return out

    def enrich(self, payloads: Sequence[bytes], sent_ms: Sequence[int] = ()) -> int:
        """Store the insights of a batch; returns how many comments it held."""
        started = time.monotonic()
        picked = self.pick(payloads, time.time())
        if picked:
            encoded = self._classifier.encoded
            insights = self._classifier.classify(
                [(text, valid.event.locale or None) for valid, text, _ in picked])
            metrics.COMMENTS_ENCODED.inc(self._classifier.encoded - encoded)
            enriched = [Enriched(valid, text, masked, insight)
                        for (valid, text, masked), insight in zip(picked, insights, strict=True)]
            self._store(enriched, self._classifier.version)
            metrics.COMMENTS_ENRICHED.inc(len(enriched))
        metrics.ENRICH_BATCH_SECONDS.observe(time.monotonic() - started)
        written_ms = time.time() * 1000
        metrics.observe_many(metrics.ENRICH_LATENCY_SECONDS,
                             (max(0.0, (written_ms - sent) / 1000) for sent in sent_ms))
        return len(picked)
