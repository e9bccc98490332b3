"""Turn one consumed batch of raw messages into warehouse rows and dead letters, with no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from streams.core.contract import Rejection, Validator
from streams.core.rows import Batch, Source


def build_batch(messages: Iterable[tuple[Source, bytes | None]], validator: Validator,
                now: float) -> Batch:
    """Validate every message; a message that cannot be validated is never dropped.

    Any exception from validation itself (a bug, not bad input) also dead-letters
    the message with reason ``internal_error`` instead of stopping the worker.
    """
    batch = Batch()
    stamp = int(now)
    for source, raw in messages:
        payload = raw if raw is not None else b""
        try:
            outcome = validator.check(payload, source.topic, now)
        except Exception as error:  # defensive: keep the worker alive, keep the message
            outcome = Rejection("internal_error",
                                f"validator failed: {type(error).__name__}: {error}")
        if isinstance(outcome, Rejection):
            batch.add_rejection(outcome, source, payload, stamp)
        else:
            batch.add_event(outcome, source, stamp)
    return batch
