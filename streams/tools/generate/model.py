"""The event builders and the timeline that orders them: synthetic traffic from a spec.

Pure on purpose: event time comes in through the spec and nothing is read or
written, so one spec always yields the same events. Tests, the demo and the
benchmark can then compare runs, and re-producing a spec only creates
duplicates that the pipeline must deduplicate (ids are derived from the spec).
Every random draw comes from one ``Random(seed)`` in a fixed order: moving a
draw changes every run after it.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from random import Random
from typing import Any, Final

from streams.core.stats import needs_followup
from streams.tools.generate.spec import (
    Incident,
    TrafficSpec,
    blind_spot_of,
    incident_of,
    validate,
)
from streams.tools.generate.tables import (
    APP_VERSIONS,
    ARRIVAL_FEEDBACK_SHARE,
    CHANNELS,
    COMMENTS,
    CONTACT_VIA,
    CURRENCY,
    DEGRADED_FAILURE_SHARE,
    DEVICES,
    ERROR_CODES,
    FAILED_PICK_SHARE,
    FOLLOWUPS_PER_ARRIVAL,
    INCIDENT_FORCE_SHARE,
    INCIDENT_KINDS,
    INCIDENT_OUTCOMES,
    INCIDENT_PENALTY,
    KINDS,
    LOCAL_OFFSET_SHARE,
    LOCALES,
    MEDIAN_MS,
    MS_SHARE,
    NPS_DROP_PENALTY,
    OUTCOME_PENALTY,
    OUTCOMES,
    PAYMENTS,
    QUEUES,
    SATISFACTION,
    SPIKE_FAILURE_SHARE,
    SUPPORT_TOUCHPOINTS,
    SURVEY_VIA,
    SURVEYS,
    TOUCHPOINT,
    Locale,
    Table,
    tenant_table,
)

FOLLOWUP_SLA_SECONDS: Final = 48 * 3600
"""The follow-up deadline the model's agents work to (most in time, some late)."""
MAX_PENDING_FOLLOWUPS: Final = 100_000
"""Bound on scheduled follow-ups; beyond it new unhappy feedback gets none (memory stays flat)."""
_SLA_HOURS: Final = FOLLOWUP_SLA_SECONDS / 3600
_RECENT: Final = 512
"""Interactions (and, apart, failed ones) kept for feedback to rate."""
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()

Random01 = Callable[[], float]


def _suffix(offset_min: int | None) -> str:
    if offset_min is None:
        return "Z"
    sign = "+" if offset_min >= 0 else "-"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


_WALL: dict[int, str] = {}  # local Unix second -> "YYYY-MM-DDTHH:MM:SS"; a pure memo
_SUFFIXES: dict[int | None, str] = {}


def stamp(ms: int, offset_min: int | None, with_ms: bool) -> str:
    """RFC 3339 for the instant ``ms`` (Unix epoch milliseconds) as local time at the offset.

    ``offset_min`` None writes ``Z``. Without ``with_ms`` the instant must be a whole second.
    """
    seconds, millis = divmod(ms + (offset_min or 0) * 60_000, 1000)
    wall = _WALL.get(seconds)
    if wall is None:
        if len(_WALL) >= 8192:
            _WALL.clear()
        days, of_day = divmod(seconds, 86_400)
        hours, rest = divmod(of_day, 3600)
        minutes, secs = divmod(rest, 60)
        day = date.fromordinal(_EPOCH_ORDINAL + days).isoformat()
        wall = _WALL[seconds] = f"{day}T{hours:02d}:{minutes:02d}:{secs:02d}"
    suffix = _SUFFIXES.get(offset_min)
    if suffix is None:
        suffix = _SUFFIXES[offset_min] = _suffix(offset_min)
    return f"{wall}.{millis:03d}{suffix}" if with_ms else wall + suffix


def generate(spec: TrafficSpec) -> Iterator[dict[str, Any]]:
    """Events in nondecreasing event-time order (exact, by instant), deterministic for a spec.

    Validates eagerly (``ValueError`` at call time, not at the first ``next``), then streams:
    memory is the follow-ups still pending (at most ``MAX_PENDING_FOLLOWUPS``) plus about one
    second of reordering, never the run.
    """
    validate(spec)
    return Timeline(spec).events()


# --- what the builders hand each other ---------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Customer:
    """Who a feedback or follow-up is about: the customer of an earlier interaction."""

    tenant: str
    channel: str
    touchpoint: str | None
    """As the interaction sent it: None where the producer left it out."""
    customer_id: str
    locale: Locale


@dataclass(frozen=True, slots=True)
class Interaction:
    """An interaction that feedback may rate later."""

    event_id: str
    who: Customer
    outcome: str | None
    hit: bool
    """In a failing scope and time: it fails more often, and its customers answer worse."""
    kind: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class Case:
    """Feedback that needs a follow-up."""

    feedback_id: str
    who: Customer


@dataclass(frozen=True, slots=True)
class PlannedFollowup:
    """A follow-up waiting on the timeline until ``due_ms``."""

    due_ms: int
    case: Case
    action: str
    agent: str | None
    stage: int
    """0 for the first follow-up of a case, 1 for the resolution after a contact."""


# --- the run: who exists, and how each event is built -----------------------------------------

def _score(survey: str, scale: int | None, level: float) -> int:
    """The answer on the survey's own scale for a satisfaction level from 0 to 1."""
    if survey == "nps":
        return int(level * 10 + 0.5)
    if survey == "ces":
        return 1 + int(level * 6 + 0.5)
    return 1 + int(level * ((scale or 5) - 1) + 0.5)


class Population:
    """A run's tenants and customers, drawn from its seed.

    Each tenant has its own mood and market mix; a customer keeps one locale
    (a 1000-slot lookup per tenant).
    """

    def __init__(self, spec: TrafficSpec, rng: Random) -> None:
        self.tenants = tenant_table(spec.tenants)
        self.mood = {t: rng.uniform(-0.04, 0.04) for t in spec.tenants}
        self.salt = {t: rng.getrandbits(32) for t in spec.tenants}
        self.locale_slots: dict[str, list[Locale]] = {}
        for tenant in spec.tenants:
            table = Table([(locale, weight * rng.uniform(0.4, 1.6)) for locale, weight in LOCALES])
            self.locale_slots[tenant] = [table.pick((i + 0.5) / 1000) for i in range(1000)]
        per_tenant = spec.rate * spec.duration / (6 * len(spec.tenants))
        self.size = max(100, min(10_000_000, int(per_tenant)))

    def customer(self, tenant: str, u: float) -> tuple[str, Locale]:
        """The customer id and locale for a uniform draw ``u``."""
        index = int(self.size * u ** 2)  # repeat customers are the common case
        mixed = ((index + 1) * 0x9E3779B1 ^ self.salt[tenant]) & 0xFFFFFFFF
        return f"c-{mixed:08x}", self.locale_slots[tenant][mixed % 1000]


@dataclass(frozen=True, slots=True)
class Effects:
    """What a scenario does inside its scope and period (``incident_of``, ``blind_spot_of``).

    The builder keeps the scope of each effect that is on and None for the others, so
    steady traffic pays one ``is None`` per hook and draws exactly what it drew before.
    """

    storm: bool = False
    """A retry storm: extra checkout and purchase interactions forced into the scope."""
    outcomes: dict[str, Table] | None = None
    """Kind -> outcomes of interactions in the scope (they are ``hit``)."""
    gloom: bool = False
    """Answers given in the scope are ``NPS_DROP_PENALTY`` less satisfied."""
    mute: bool = False
    """No feedback is given in the scope."""
    halt: bool = False
    """No follow-up is sent in the scope."""


def _failing(share: float) -> dict[str, Table]:
    return {kind: table.with_share("failure", share) for kind, table in OUTCOMES.items()}


EFFECTS: Final[dict[str, Effects]] = {
    "steady": Effects(),
    "incident": Effects(storm=True, outcomes=dict.fromkeys(OUTCOMES, INCIDENT_OUTCOMES)),
    "blind-spot": Effects(mute=True),
    "nps-drop": Effects(gloom=True),
    "failure-spike": Effects(outcomes=_failing(SPIKE_FAILURE_SHARE)),
    "degraded": Effects(outcomes=_failing(DEGRADED_FAILURE_SHARE), gloom=True),
    "silent-channel": Effects(mute=True),
    "followup-backlog": Effects(halt=True),
}


def _covers(scope: Incident, who: Customer, at: float) -> bool:
    return scope.covers(who.tenant, who.channel, who.touchpoint, at)


def _scope(spec: TrafficSpec) -> Incident | None:
    """Where and when the scenario acts: its incident, or the blind spot for the whole run."""
    blind = blind_spot_of(spec)
    if blind is None:
        return incident_of(spec)
    return Incident(*blind, None, spec.start, spec.start + spec.duration, ())


class EventBuilder:
    """Builds each event of a run; the ids count up in build order."""

    def __init__(self, spec: TrafficSpec) -> None:
        self.rng = rng = Random(spec.seed)
        key = repr((spec.seed, float(spec.start), float(spec.duration), float(spec.rate),
                    spec.scenario, spec.tenants)).encode()
        self.run_id = hashlib.blake2b(key, digest_size=5).hexdigest()
        self.count = 0
        effects, scope = EFFECTS[spec.scenario], _scope(spec)
        self.storm = (None if not effects.storm or scope is None or scope.channel is None
                      else (scope.tenant, scope.channel, scope.start, scope.end))
        self.failing = scope if effects.outcomes is not None else None
        self.hit_outcomes = effects.outcomes or {}
        self.gloom = scope if effects.gloom else None
        self.mute = scope if effects.mute else None
        self.halt = scope if effects.halt else None
        self.population = Population(spec, rng)

    def _id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}-{self.run_id}-{self.count:x}"

    def _when(self, at: float, channel: str) -> tuple[int, bool]:
        """Quantise an event time upwards (ms, or whole seconds for second-precision clocks)."""
        if self.rng.random() < MS_SHARE[channel]:
            return math.ceil(at * 1000), True
        return math.ceil(at) * 1000, False

    def _offset(self, channel: str, locale_offset: int) -> int | None:
        return locale_offset if self.rng.random() < LOCAL_OFFSET_SHARE[channel] else None

    # interactions

    def interaction(self, at: float) -> tuple[int, dict[str, Any], Interaction]:
        """A new interaction arriving at ``at``, and what feedback on it will need."""
        rnd = self.rng.random
        tenant, channel, kind = self._what(at, rnd)
        touchpoint = TOUCHPOINT[kind] or SUPPORT_TOUCHPOINTS.pick(rnd())
        ms, with_ms = self._when(at, channel)
        failing = self.failing
        hit = failing is not None and failing.covers(tenant, channel, touchpoint, ms / 1000)
        outcome = (self.hit_outcomes[kind] if hit else OUTCOMES[kind]).pick(rnd())
        customer, locale = self.population.customer(tenant, rnd())
        offset = self._offset(channel, locale.utc_offset_min)
        event_id = self._id("in")
        event: dict[str, Any] = {
            "event_id": event_id, "type": "interaction",
            "occurred_at": stamp(ms, offset, with_ms), "tenant": tenant, "channel": channel,
        }
        # Visits rarely name a touchpoint; email and social producers often omit it.
        if (touchpoint != "unspecified" or rnd() < 0.3) and not (
                channel in ("email", "social") and not hit and rnd() < 0.3):
            event["touchpoint"] = touchpoint
        anonymous = rnd() < (0.5 if channel == "store" and kind == "visit" else 0.05)
        if not anonymous:
            event["customer_id"] = customer
        if rnd() < 0.95:
            event["locale"] = locale.tag
        event["kind"] = kind
        if outcome is not None:
            event["outcome"] = outcome
        self._measures(event, kind, locale, rnd)
        attributes = self._attributes(channel, kind, touchpoint, outcome, hit, rnd)
        if attributes:
            event["attributes"] = attributes
        who = Customer(tenant, channel, event.get("touchpoint"), customer, locale)
        return ms, event, Interaction(event_id, who, outcome, hit, kind, ms)

    def _what(self, at: float, rnd: Random01) -> tuple[str, str, str]:
        """Tenant, channel and kind: drawn, or forced into the incident scope (retry storm)."""
        storm = self.storm
        if storm is not None:
            tenant, channel, start, end = storm
            if start <= at < end and rnd() < INCIDENT_FORCE_SHARE:
                return tenant, channel, INCIDENT_KINDS.pick(rnd())
        tenant = self.population.tenants.pick(rnd())
        channel = CHANNELS.pick(rnd())
        return tenant, channel, KINDS[channel].pick(rnd())

    def _measures(self, event: dict[str, Any], kind: str, locale: Locale,
                  rnd: Random01) -> None:
        """Duration and, for purchases and some returns, the value in the locale's currency."""
        if rnd() < 0.85:
            sigma = 0.9
            event["duration_ms"] = int(MEDIAN_MS[kind] * math.exp(sigma * self.rng.gauss()))
        if kind == "purchase" or (kind == "return_request" and rnd() < 0.5):
            factor, decimals = CURRENCY[locale.currency]
            amount = round(self.rng.lognormvariate(3.9, 0.7) * factor, decimals)
            event["value"] = int(amount) if decimals <= 0 else amount
            event["currency"] = locale.currency

    def _attributes(self, channel: str, kind: str, touchpoint: str, outcome: str | None,
                    hit: bool, rnd: Random01) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        if channel == "web":
            attributes["device"] = DEVICES.pick(rnd())
        elif channel == "mobile_app":
            attributes["os"] = "ios" if rnd() < 0.48 else "android"
            attributes["app_version"] = APP_VERSIONS[int(rnd() * len(APP_VERSIONS))]
        elif channel == "store":
            attributes["store_id"] = f"store-{1 + int(rnd() * 40):03d}"
        elif channel in ("chat", "messaging", "voice"):
            attributes["queue"] = QUEUES.get(touchpoint, "general")
        if channel in ("web", "mobile_app") and rnd() < 0.3:
            attributes["ab_test"] = "b" if rnd() < 0.5 else "a"
        if kind in ("add_to_cart", "checkout", "purchase"):
            attributes["items"] = 1 + int(rnd() ** 2 * 6)
            if kind != "add_to_cart":
                attributes["payment_method"] = PAYMENTS.pick(rnd())
        if rnd() < 0.4:
            attributes["returning"] = rnd() < 0.6
        if hit and outcome == "failure":
            attributes["error_code"] = ERROR_CODES[int(rnd() * len(ERROR_CODES))]
        return attributes

    # feedback

    def feedback(self, at: float, interaction: Interaction, linked: bool
                 ) -> tuple[int, dict[str, Any], Case | None]:
        """An answer about ``interaction``; a ``Case`` when it needs a follow-up."""
        rnd = self.rng.random
        who = interaction.who
        ms, with_ms = self._when(at, who.channel)
        ms = max(ms, interaction.at_ms)  # never before the interaction it rates
        if not with_ms:
            ms = -(-ms // 1000) * 1000
        survey, scale = SURVEYS.pick(rnd())
        level = self._satisfaction(interaction, at)
        score = _score(survey, scale, level)
        unhappy = needs_followup(survey, score, scale)
        event = self._header("fb", "feedback", ms, with_ms, who)
        event["survey"] = survey
        event["score"] = score
        if scale is not None:
            event["scale"] = scale
        if rnd() < (0.5 if unhappy else 0.25):
            event["comment"] = self._comment(interaction, unhappy, level, rnd)
        if linked:
            event["interaction_id"] = interaction.event_id
        event["attributes"] = {"survey_via": SURVEY_VIA[who.channel],
                               "trigger": interaction.kind if linked else "relationship"}
        return ms, event, (Case(event["event_id"], who) if unhappy else None)

    def _satisfaction(self, interaction: Interaction, at: float) -> float:
        """0..1: the channel's norm, the tenant's mood, what went wrong, the gloom, and noise."""
        who = interaction.who
        level = (SATISFACTION[who.channel] + self.population.mood[who.tenant]
                 - OUTCOME_PENALTY[interaction.outcome]
                 - (INCIDENT_PENALTY if interaction.hit else 0.0) + 0.13 * self.rng.gauss())
        gloom = self.gloom
        if gloom is not None and _covers(gloom, who, at):
            level -= NPS_DROP_PENALTY
        return 0.0 if level < 0 else 1.0 if level > 1 else level

    @staticmethod
    def _comment(interaction: Interaction, unhappy: bool, level: float, rnd: Random01) -> str:
        """A comment in the customer's language that fits the answer and what happened."""
        touchpoint = interaction.who.touchpoint
        if unhappy and interaction.outcome == "failure" and touchpoint == "checkout":
            mood = "pay"
        elif unhappy:
            mood = "late" if touchpoint == "delivery" else "neg"
        else:
            mood = "pos" if level >= 0.6 else "neg"
        options = COMMENTS[interaction.who.locale.language][mood]
        return options[int(rnd() * len(options))]

    def _header(self, prefix: str, kind: str, ms: int, with_ms: bool,
                who: Customer) -> dict[str, Any]:
        """The common fields of a feedback or follow-up, for one known customer."""
        event: dict[str, Any] = {"event_id": self._id(prefix), "type": kind}
        event["occurred_at"] = stamp(ms, self._offset(who.channel, who.locale.utc_offset_min),
                                     with_ms)
        event |= {"tenant": who.tenant, "channel": who.channel}
        if who.touchpoint is not None:
            event["touchpoint"] = who.touchpoint
        event |= {"customer_id": who.customer_id, "locale": who.locale.tag}
        return event

    # follow-ups

    def plan_followup(self, feedback_ms: int, case: Case) -> PlannedFollowup | None:
        """When and how an unhappy customer is followed up, if ever (~15% never, ~12% late)."""
        rng = self.rng
        u = rng.random()
        if u < 0.15:
            return None
        if u < 0.20:
            action, hours = "no_action", rng.uniform(2, 24)
        elif u < 0.32:
            action, hours = "contacted", rng.uniform(_SLA_HOURS + 0.5, 120)
        else:
            action = "resolved" if rng.random() < 0.25 else "contacted"
            hours = min(_SLA_HOURS - 0.5, rng.lognormvariate(math.log(5), 0.9))
        agent = f"agent-{1 + int(rng.random() * 60):03d}" if rng.random() < 0.8 else None
        return PlannedFollowup(feedback_ms + int(hours * 3_600_000), case, action, agent, 0)

    def followup(self, planned: PlannedFollowup
                 ) -> tuple[dict[str, Any], PlannedFollowup | None]:
        """The follow-up event, and the resolution some contacts lead to later."""
        rng = self.rng
        ms = planned.due_ms
        event = self._header("fu", "followup", ms, True, planned.case.who)
        event["feedback_id"] = planned.case.feedback_id
        event["action"] = planned.action
        if planned.agent is not None:
            event["agent"] = planned.agent
        event["attributes"] = {"contact_via": CONTACT_VIA[int(rng.random() * 5)]}
        if planned.stage == 0 and planned.action == "contacted" and rng.random() < 0.4:
            later = ms + int(rng.uniform(2, 72) * 3_600_000)
            return event, PlannedFollowup(later, planned.case, "resolved", planned.agent, 1)
        return event, None


# --- the timeline: arrivals in event time, built events released in order ---------------------

class Timeline:
    """Arrivals in event-time order, each a new interaction or feedback on a recent one.

    Built events and planned follow-ups wait in a heap until the arrivals pass
    their time, so events come out in nondecreasing event time although a
    quantised timestamp may lie slightly after its arrival.
    """

    def __init__(self, spec: TrafficSpec) -> None:
        self.spec = spec
        self.build = EventBuilder(spec)
        self.rnd = self.build.rng.random
        self.heap: list[tuple[int, int, dict[str, Any] | PlannedFollowup]] = []
        self.seq = 0  # ties in time leave the heap in the order they entered it
        self.pending = 0  # planned follow-ups in the heap
        self.recent: list[Interaction] = []
        self.failed: list[Interaction] = []

    def events(self) -> Iterator[dict[str, Any]]:
        spec, heap = self.spec, self.heap
        expovariate = self.build.rng.expovariate
        arrivals = spec.rate / (1 + FOLLOWUPS_PER_ARRIVAL)
        end = spec.start + spec.duration
        at = spec.start
        while True:
            at += expovariate(arrivals)
            if at >= end:
                break
            now_ms = at * 1000
            while heap and heap[0][0] <= now_ms:
                yield self._release()
            self._arrive(at)
        end_ms = end * 1000
        while heap and heap[0][0] < end_ms:
            yield self._release()

    def _push(self, ms: int, item: dict[str, Any] | PlannedFollowup) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (ms, self.seq, item))

    def _schedule(self, planned: PlannedFollowup) -> None:
        halt = self.build.halt
        if halt is not None and _covers(halt, planned.case.who, planned.due_ms / 1000):
            return  # agents stopped calling: the case goes overdue
        self.pending += 1
        self._push(planned.due_ms, planned)

    def _release(self) -> dict[str, Any]:
        """The earliest waiting event; a planned follow-up is built now, and may plan another."""
        _, _, item = heapq.heappop(self.heap)
        if isinstance(item, dict):
            return item
        self.pending -= 1
        event, again = self.build.followup(item)
        if again is not None and self.pending < MAX_PENDING_FOLLOWUPS:
            self._schedule(again)
        return event

    def _arrive(self, at: float) -> None:
        """One arrival: feedback on a recent interaction, or else a new interaction."""
        interaction = self._rated(at)
        if interaction is None:
            ms, event, interaction = self.build.interaction(at)
            self._remember(interaction)
            self._push(ms, event)
            return
        linked = self.rnd() < 0.8
        ms, event, case = self.build.feedback(at, interaction, linked)
        if self.spec.revised and "comment" in event and self.rnd() < self.spec.revised:
            # The score first, then the same answer with its comment (Delighted does this).
            self._push(ms, {key: value for key, value in event.items() if key != "comment"})
            event = {**event, "revision": 1}
        self._push(ms, event)
        if case is not None and self.pending < MAX_PENDING_FOLLOWUPS:
            planned = self.build.plan_followup(ms, case)
            if planned is not None:
                self._schedule(planned)

    def _rated(self, at: float) -> Interaction | None:
        """A recent interaction that gets its feedback now (it leaves the pool), or None."""
        rnd, recent, failed = self.rnd, self.recent, self.failed
        if not (recent and rnd() < ARRIVAL_FEEDBACK_SHARE):
            return None
        source = failed if failed and rnd() < FAILED_PICK_SHARE else recent
        i = int(rnd() * len(source))
        interaction = source[i]
        source[i] = source[-1]
        source.pop()
        mute = self.build.mute
        if mute is not None and _covers(mute, interaction.who, at):
            return None  # a blind spot or a broken survey: its customers never answer
        return interaction

    def _remember(self, interaction: Interaction) -> None:
        """Keep a new interaction for later feedback; a full pool replaces a random one."""
        pool = self.failed if interaction.outcome == "failure" else self.recent
        if len(pool) < _RECENT:
            pool.append(interaction)
        else:
            pool[int(self.rnd() * _RECENT)] = interaction
