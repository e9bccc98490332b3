"""Turn one consumed batch of raw messages into warehouse rows and dead letters, with no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from streams.core.contract import Rejection, Validator, ValidEvent
from streams.core.rows import Batch, Message


def build_batch(messages: Iterable[Message], validator: Validator, now: float) -> Batch:
    """Validate every message; a message that cannot be validated is never dropped.

    Any exception from validation itself (a bug, not bad input) also dead-letters
    the message with reason ``internal_error`` instead of stopping the worker.
    """
    batch = Batch()
    stamp = int(now)
    check, add_event, add_rejection = validator.check, batch.add_event, batch.add_rejection
    for message in messages:
        payload = message.value if message.value is not None else b""
        try:
            outcome = check(payload, message.topic, now)
        except Exception as error:  # defensive: keep the worker alive, keep the message
            outcome = Rejection("internal_error",
                                f"validator failed: {type(error).__name__}: {error}")
        if type(outcome) is ValidEvent:
            add_event(outcome, message, stamp)
        else:
            add_rejection(outcome, message, payload, stamp)
    return batch

