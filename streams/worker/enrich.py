"""The enrichment edge: feedback messages in, comment insights and comment minutes out.

Runs in the Faust agent on ``cx.feedback`` (the app's consumer group, apart
from the batch ingest's), so a slow model never holds raw events back. The
CPU work (validate, mask, classify) and the writes run in a thread, off the
event loop. Every write is idempotent, as in scoring: an insight row is keyed
by event id, a comment fact by scope, minute and event id, and minutes are
recomputed from the stored facts, so a replay or a duplicate changes nothing.
Messages that fail the contract are skipped here: the ingest dead-letters them.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from streams.comments.classify import Classifier
from streams.core.contract import Validator, ValidEvent
from streams.core.ingest import Masker, masked_event
from streams.kafka import TOPIC_OF_TYPE
from streams.queries.comments import Enriched, store_insights
from streams.queries.scoring import rewrite_minutes
from streams.warehouse import Warehouse

FEEDBACK_TOPIC = TOPIC_OF_TYPE["feedback"]
MODEL_NICE = 10
"""How much lower the model's CPU priority is than the ingest's (Linux nice steps)."""


def lower_priority() -> None:
    """Lower this thread's CPU priority (Linux: nice is per thread, and the encoder's
    OpenMP threads inherit it from the thread that starts them). On a busy machine the
    ingest and the scores then go first and the comments catch up, instead of both slowing."""
    with contextlib.suppress(OSError, AttributeError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid,
                       min(19, os.getpriority(os.PRIO_PROCESS, tid) + MODEL_NICE))


def model_thread() -> ThreadPoolExecutor:
    """The one thread the model runs in, at a lower priority (``lower_priority``)."""
    return ThreadPoolExecutor(1, thread_name_prefix="cx-comments", initializer=lower_priority)

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
        events = []
        for payload in payloads:
            try:
                valid = self.validator.check(payload or b"", FEEDBACK_TOPIC, now)
            except Exception:  # the ingest dead-letters it, with the reason
                continue
            if type(valid) is not ValidEvent or valid.type != "feedback":
                continue
            events.append(valid if self._mask is None
                          else masked_event(valid, self._mask, Counter()))
        out = self.classify(events)
        out.seconds = time.monotonic() - started
        return out

    def classify(self, events: Sequence[ValidEvent]) -> Enrichment:
        """Insights for the feedback among validated, masked events that has a comment."""
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
        return out


def store(warehouse: Warehouse, enrichment: Enrichment, model_version: str) -> int:
    """Insights, then their comment facts' minutes; returns the minutes rewritten."""
    if not enrichment.enriched:
        return 0
    return rewrite_minutes(warehouse, store_insights(warehouse, enrichment.enriched,
                                                     model_version))
