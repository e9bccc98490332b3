"""Turn one consumed batch of raw messages into warehouse rows and dead letters, with no I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from msgspec.structs import replace

from streams.core.contract import Rejection, Validator, ValidEvent
from streams.core.events import Feedback
from streams.core.pseudonyms import Pseudonym, pseudonymous_event, pseudonymous_payload
from streams.core.rows import Batch, Message


class Masker(NamedTuple):
    """How personal data is masked before anything is stored (``streams.comments.pii``):
    each returns the masked value and how many of each kind it found."""

    text: Callable[[str], tuple[str, Mapping[str, int]]]
    payload: Callable[[bytes], tuple[bytes, Mapping[str, int]]]


def masked_event(event: ValidEvent, masker: Masker, counts: Counter[str]) -> ValidEvent:
    """The event with its comment masked: every row, fact, case and notification built
    from it then carries only the masked text. Counts what was masked into ``counts``."""
    e = event.event
    if type(e) is not Feedback or not e.comment:
        return event
    comment, found = masker.text(e.comment)
    if not found:
        return event
    counts.update(found)
    return event._replace(event=replace(e, comment=comment))


def masked_rejection(rejection: Rejection, payload: bytes, masker: Masker,
                     counts: Counter[str]) -> tuple[Rejection, bytes]:
    """A dead letter's message and payload masked; counted once (the payload's finds, or
    the message's where it found more)."""
    payload, in_payload = masker.payload(payload)
    message, in_message = masker.text(rejection.message)
    counts.update({kind: max(in_payload.get(kind, 0), in_message.get(kind, 0))
                   for kind in {*in_payload, *in_message}})
    if in_message:
        rejection = Rejection(rejection.reason, message)
    return rejection, payload


def build_batch(messages: Iterable[Message], validator: Validator, now: float,
                masker: Masker | None = None, pseudonym: Pseudonym | None = None) -> Batch:
    """Validate every message; a message that cannot be validated is never dropped.

    Any exception from validation itself (a bug, not bad input) also dead-letters
    the message with reason ``internal_error`` instead of stopping the worker.
    With a ``masker``, feedback comments and dead letters are masked before any
    row is built, and ``Batch.pii`` counts what was masked; with a ``pseudonym``
    (``CX_CUSTOMER_ID_HASH``), customer ids are replaced by their pseudonyms, in events
    and in dead letters' ``customer_id`` members, before any row is built too.
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
            if masker is not None:
                outcome = masked_event(outcome, masker, batch.pii)
            if pseudonym is not None:
                outcome = pseudonymous_event(outcome, pseudonym)
            add_event(outcome, message, stamp)
        else:
            if pseudonym is not None:
                payload = pseudonymous_payload(payload, pseudonym)
            if masker is not None:
                outcome, payload = masked_rejection(outcome, payload, masker, batch.pii)
            add_rejection(outcome, message, payload, stamp)
    return batch
