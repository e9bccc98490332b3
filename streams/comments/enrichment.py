"""Feedback messages to comment insights: the enrichment's domain, without Kafka or ClickHouse.

The worker's enrichment service (``streams.worker.enrich``) fetches, stores and
commits; ``Enricher`` is what it does in between, and what ``tools.load`` does
offline: validate, mask as the ingest masks (so the model never sees personal
data), and classify one batch in one encoder call. ``Enriched`` is the stored form.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from streams.comments.classify import Classifier
from streams.comments.labels import Insight
from streams.core.contract import TOPIC_OF_TYPE, Validator, ValidEvent
from streams.core.ingest import Masker, masked_event
from streams.core.stats import Scope

FEEDBACK_TOPIC = TOPIC_OF_TYPE["feedback"]


@dataclass(frozen=True, slots=True)
class Enriched:
    """One feedback comment with what it says, as the enrichment consumer stores it."""

    event_id: str
    scope: Scope
    """(tenant, channel, touchpoint) of the feedback."""
    occurred_ms: int
    """The feedback's event time, epoch milliseconds."""
    locale: str
    comment: str
    """Personal data already masked: the only form ever stored; empty for a revision
    without a comment (``insight`` None), which withdraws an older revision's comment."""
    insight: Insight | None
    revision: int = 0


@dataclass(slots=True)
class Enrichment:
    """One batch's insights, ready to store, and what it took."""

    enriched: list[Enriched] = field(default_factory=list)
    encoded: int = 0
    """Comments that went through the encoder (the rest came from the cache)."""
    seconds: float = 0.0


class Enricher:
    """Validate, mask and classify a batch of feedback messages (no I/O)."""

    def __init__(self, validator: Validator, classifier: Classifier,
                 masker: Masker | None) -> None:
        self.validator = validator
        self.classifier = classifier
        self._mask = masker

    def enrich(self, payloads: Sequence[bytes | None], now: float) -> Enrichment:
        """Insights for the valid feedback with a non-blank comment, masked first as the
        ingest masks it (so the model never sees personal data; the ingest counts it)."""
        started = time.monotonic()
        out = self.classify(self.accept(payloads, now))
        out.seconds = time.monotonic() - started
        return out

    def accept(self, payloads: Sequence[bytes | None], now: float) -> list[ValidEvent]:
        """The valid feedback among ``payloads``, masked; the rest is the ingest's to
        dead-letter, with the reason."""
        events = []
        for payload in payloads:
            try:
                valid = self.validator.check(payload or b"", FEEDBACK_TOPIC, now)
            except Exception:
                continue
            if type(valid) is not ValidEvent or valid.type != "feedback":
                continue
            events.append(valid if self._mask is None
                          else masked_event(valid, self._mask, Counter()))
        return events

    def classify(self, events: Sequence[ValidEvent]) -> Enrichment:
        """Insights for the feedback among validated, masked events that has a comment."""
        started = time.monotonic()
        out = Enrichment()
        feedback = [valid for valid in events if valid.type == "feedback"]
        picked = [(valid, valid.event.comment) for valid in feedback  # type: ignore[union-attr]
                  if (valid.event.comment or "").strip()]  # type: ignore[union-attr]
        if picked:
            before = self.classifier.encoded
            insights = self.classifier.classify(
                [(text, valid.event.locale or None) for valid, text in picked])
            out.encoded = self.classifier.encoded - before
            out.enriched = [
                Enriched(valid.event.event_id, valid.event.scope, valid.occurred_ms,
                         valid.event.locale or "", text, insight,
                         valid.event.revision)  # type: ignore[union-attr]
                for (valid, text), insight in zip(picked, insights, strict=True)]
        # A later revision without a comment withdraws an older revision's comment.
        out.enriched += [
            Enriched(valid.event.event_id, valid.event.scope, valid.occurred_ms,
                     valid.event.locale or "", "", None, valid.event.revision)  # type: ignore[union-attr]
            for valid in feedback if valid.event.revision  # type: ignore[union-attr]
            and not (valid.event.comment or "").strip()]  # type: ignore[union-attr]
        out.seconds = time.monotonic() - started
        return out
