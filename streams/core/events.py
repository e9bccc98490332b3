"""Event contract v1 as msgspec Structs: the fast decoder of the hot path, no I/O.

The JSON Schema files under ``schemas/events`` are the published contract; these
types mirror them so valid events decode straight from bytes in a few
microseconds. What a Struct cannot say cheaply (patterns of low-cardinality
strings, score ranges per survey, value/currency together) is checked in
``contract.Validator``; a test proves the two agree on every contract case.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

UNSPECIFIED = "unspecified"
"""The touchpoint of an event that names none."""
Int64 = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
"""Integers JSON decoders agree on; larger ones take the explaining path."""
MAX_REVISION = 99_999_999
"""A revision fits 27 bits, so a follow-up case's version can carry it (``core.cases``)."""
EventId = Annotated[str, Meta(min_length=1, max_length=64)]
Channel = Literal["web", "mobile_app", "email", "chat", "messaging", "voice", "store", "social"]
AttributeValue = Annotated[str, Meta(max_length=1024)] | Int64 | float | bool
Attributes = Annotated[dict[Annotated[str, Meta(max_length=64)], AttributeValue],
                       Meta(max_length=32)]


class Event(Struct, forbid_unknown_fields=True, tag_field="type", frozen=True, kw_only=True):
    """Fields common to every type; patterns are checked by the validator.

    Optional fields default to ``UNSET`` (falsy), not None: the contract allows a
    field to be absent, never ``null``.
    """

    TYPE: ClassVar[str]
    event_id: EventId
    occurred_at: Annotated[str, Meta(max_length=40)]
    tenant: str
    channel: Channel
    touchpoint: Annotated[str, Meta(min_length=1, max_length=64)] | UnsetType = UNSET
    customer_id: Annotated[str, Meta(max_length=128)] | UnsetType = UNSET
    locale: Annotated[str, Meta(max_length=35)] | UnsetType = UNSET
    attributes: Attributes | UnsetType = UNSET

    @property
    def scope(self) -> tuple[str, str, str]:
        """(tenant, channel, touchpoint), an absent touchpoint being ``unspecified``."""
        return self.tenant, self.channel, self.touchpoint or UNSPECIFIED


class Interaction(Event, tag="interaction", frozen=True):
    TYPE: ClassVar[str] = "interaction"
    kind: Literal["visit", "search", "product_view", "add_to_cart", "checkout", "purchase",
                  "cart_abandon", "support_contact", "support_resolved",
                  "return_request"]
    outcome: Literal["success", "failure", "abandoned"] | UnsetType = UNSET
    duration_ms: Annotated[int, Meta(ge=0, le=2_147_483_647)] | UnsetType = UNSET
    value: Annotated[float, Meta(ge=0)] | UnsetType = UNSET
    currency: str | UnsetType = UNSET


class Feedback(Event, tag="feedback", frozen=True):
    TYPE: ClassVar[str] = "feedback"
    survey: Literal["nps", "csat", "ces"]
    score: int
    scale: Literal[5, 10] | UnsetType = UNSET
    comment: Annotated[str, Meta(max_length=5000)] | UnsetType = UNSET
    interaction_id: EventId | UnsetType = UNSET
    revision: Annotated[int, Meta(ge=0, le=MAX_REVISION)] = 0
    """Amendments of one answer (a comment sent after the score, a changed rating) share
    its event id; the highest revision wins everywhere."""

    @property
    def scale_or_default(self) -> int:
        """The CSAT scale (5 when absent); 0 for NPS and CES, which have none."""
        return (self.scale or 5) if self.survey == "csat" else 0


class Followup(Event, tag="followup", frozen=True):
    TYPE: ClassVar[str] = "followup"
    feedback_id: EventId
    action: Literal["contacted", "resolved", "no_action"]
    agent: Annotated[str, Meta(max_length=128)] | UnsetType = UNSET


AnyEvent = Interaction | Feedback | Followup
