"""Synthetic omnichannel CX traffic that satisfies event contract v1.

Pure on purpose: event time comes in through the spec and nothing is read or
written, so one spec always yields the same events. Tests, the demo and the
benchmark can then compare runs, and re-producing a spec only creates
duplicates that the pipeline must deduplicate (ids are derived from the spec).
"""

from __future__ import annotations

import hashlib
import heapq
import math
import re
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from random import Random
from typing import Any, Final

from streams.core.stats import needs_followup

SCENARIOS: Final[dict[str, str]] = {
    "steady": "normal traffic on every channel; scores stable, no incident",
    "incident": "first tenant's mobile_app checkout fails sharply in the middle third of the run",
    "blind-spot": "normal traffic, but the last tenant's messaging channel collects no feedback",
}

TENANT_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
FOLLOWUP_SLA_SECONDS: Final = 48 * 3600
MAX_PENDING_FOLLOWUPS: Final = 100_000
"""Bound on scheduled follow-ups; beyond it new unhappy feedback gets none (memory stays flat)."""
_LATEST_END: Final = 253_402_300_799.0  # 9999-12-31T23:59:59Z, the last RFC 3339 second
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, kw_only=True, slots=True)
class TrafficSpec:
    """What to generate; validated on construction so a bad CLI flag fails before any I/O."""

    seed: int = 7
    start: float
    """Unix seconds: no event is earlier."""
    duration: float
    """Seconds of event time: every event is before ``start + duration``."""
    rate: float
    """Mean events per second of event time, all types together (approximate)."""
    scenario: str = "steady"
    tenants: tuple[str, ...] = ("acme-shop", "nordwind")

    def __post_init__(self) -> None:
        if isinstance(self.tenants, str) or not isinstance(self.tenants, Sequence):
            raise ValueError(f"tenants must be a sequence of tenant names, got {self.tenants!r}")
        object.__setattr__(self, "tenants", tuple(self.tenants))
        _validate(self)


@dataclass(frozen=True, slots=True)
class Incident:
    """Scope and event-time window a scenario degrades, so tests and demos know where to look."""

    tenant: str
    channel: str
    touchpoint: str
    start: float
    end: float

    def covers(self, tenant: str, channel: str, touchpoint: str | None, at: float) -> bool:
        """True for an event in the incident scope with ``start <= at < end``."""
        return (self.start <= at < self.end and tenant == self.tenant
                and channel == self.channel and touchpoint == self.touchpoint)


def incident_of(spec: TrafficSpec) -> Incident | None:
    """The incident a spec produces: the whole middle third of the run, or None."""
    if spec.scenario != "incident":
        return None
    third = spec.duration / 3
    return Incident(spec.tenants[0], "mobile_app", "checkout", spec.start + third,
                    spec.start + 2 * third)


def blind_spot_of(spec: TrafficSpec) -> tuple[str, str] | None:
    """(tenant, channel) that gets interactions but no feedback in the blind-spot scenario."""
    return (spec.tenants[-1], "messaging") if spec.scenario == "blind-spot" else None


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _validate(spec: TrafficSpec) -> None:
    if isinstance(spec.seed, bool) or not isinstance(spec.seed, int):
        raise ValueError(f"seed must be an integer, got {spec.seed!r}")
    start = _number("start", spec.start)
    duration = _number("duration", spec.duration)
    rate = _number("rate", spec.rate)
    if start < 0:
        raise ValueError(f"start must be Unix seconds >= 0, got {start!r}")
    if duration <= 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration!r}")
    if start + duration > _LATEST_END:
        raise ValueError("start + duration must not go past 9999-12-31T23:59:59Z")
    if rate <= 0:
        raise ValueError(f"rate must be > 0 events per second, got {rate!r}")
    if spec.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {spec.scenario!r}; valid scenarios: "
                         f"{', '.join(SCENARIOS)}")
    if not spec.tenants:
        raise ValueError("tenants must name at least one tenant")
    for tenant in spec.tenants:
        if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
            raise ValueError(f"tenant {tenant!r} does not match {TENANT_PATTERN.pattern}")
    if len(set(spec.tenants)) != len(spec.tenants):
        raise ValueError(f"tenants must be distinct, got {spec.tenants!r}")


# --- traffic model: weights are loose industry shapes, not measurements -----------------------

class _Table:
    """Weighted choice by bisecting one uniform draw: much cheaper than Random.choices."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, pairs: Sequence[tuple[Any, float]]) -> None:
        self.items = tuple(item for item, _ in pairs)
        cum, acc = [], 0.0
        for _, weight in pairs:
            acc += weight
            cum.append(acc)
        cum[-1] = math.inf  # a draw that rounds up to the total still lands on the last item
        self.cum, self.total = cum, acc

    def pick(self, u: float) -> Any:
        return self.items[bisect(self.cum, u * self.total)]


_CHANNELS = _Table([("web", 34), ("mobile_app", 28), ("email", 8), ("chat", 8),
                    ("messaging", 6), ("voice", 6), ("store", 6), ("social", 4)])
_SHOP = [("visit", 22), ("search", 17), ("product_view", 24), ("add_to_cart", 11),
         ("checkout", 8), ("purchase", 6), ("cart_abandon", 4), ("support_contact", 5),
         ("return_request", 3)]
_KINDS = {
    "web": _Table(_SHOP),
    "mobile_app": _Table([(k, w * 1.3 if k in ("search", "product_view") else w)
                          for k, w in _SHOP]),
    "email": _Table([("visit", 55), ("purchase", 10), ("support_contact", 25),
                     ("support_resolved", 10)]),
    "chat": _Table([("support_contact", 48), ("support_resolved", 34), ("return_request", 12),
                    ("purchase", 6)]),
    "messaging": _Table([("support_contact", 44), ("support_resolved", 30),
                         ("return_request", 12), ("purchase", 9), ("visit", 5)]),
    "voice": _Table([("support_contact", 55), ("support_resolved", 30), ("return_request", 15)]),
    "store": _Table([("visit", 35), ("purchase", 40), ("return_request", 15),
                     ("support_contact", 10)]),
    "social": _Table([("visit", 50), ("product_view", 20), ("support_contact", 25),
                      ("support_resolved", 5)]),
}
_SUPPORT_TOUCHPOINTS = _Table([("support", 50), ("delivery", 35), ("returns", 10), ("product", 5)])
_TOUCHPOINT = {  # None: pick from _SUPPORT_TOUCHPOINTS
    "visit": "unspecified", "search": "search", "product_view": "product",
    "add_to_cart": "product", "checkout": "checkout", "purchase": "checkout",
    "cart_abandon": "checkout", "support_contact": None, "support_resolved": None,
    "return_request": "returns",
}
_OUTCOMES = {
    "visit": _Table([(None, 60), ("success", 35), ("abandoned", 5)]),
    "search": _Table([("success", 90), ("failure", 8), ("abandoned", 2)]),
    "product_view": _Table([(None, 30), ("success", 66), ("abandoned", 4)]),
    "add_to_cart": _Table([("success", 96), ("failure", 4)]),
    "checkout": _Table([("success", 90), ("failure", 4), ("abandoned", 6)]),
    "purchase": _Table([("success", 97), ("failure", 3)]),
    "cart_abandon": _Table([("abandoned", 1)]),
    "support_contact": _Table([("success", 80), ("abandoned", 12), ("failure", 8)]),
    "support_resolved": _Table([("success", 90), ("failure", 10)]),
    "return_request": _Table([("success", 88), ("failure", 12)]),
}
_INCIDENT_OUTCOMES = _Table([("failure", 60), ("abandoned", 20), ("success", 20)])
_INCIDENT_KINDS = _Table([("checkout", 70), ("purchase", 30)])
_MEDIAN_MS = {
    "visit": 95_000, "search": 900, "product_view": 28_000, "add_to_cart": 1_400,
    "checkout": 75_000, "purchase": 4_000, "cart_abandon": 180_000, "support_contact": 340_000,
    "support_resolved": 420_000, "return_request": 150_000,
}
# tag, language, UTC offset (minutes), currency, weight
_LOCALES = (
    ("en-GB", "en", 0, "GBP", 14), ("en-US", "en", -300, "USD", 12),
    ("fr-FR", "fr", 60, "EUR", 14), ("de-DE", "de", 60, "EUR", 12),
    ("es-ES", "es", 60, "EUR", 7), ("ar", "ar", 180, "SAR", 8),
    ("id-ID", "id", 420, "IDR", 10), ("ja-JP", "ja", 540, "JPY", 6),
    ("en-IN", "en", 330, "INR", 5), ("pt-BR", "pt", -180, "BRL", 5),
    ("es-MX", "es", -360, "MXN", 3),
)
# major units per EUR, decimals
_CURRENCY = {"GBP": (0.85, 2), "USD": (1.1, 2), "EUR": (1.0, 2), "SAR": (4.1, 2),
             "IDR": (17_500.0, -2), "JPY": (165.0, 0), "INR": (92.0, 2), "BRL": (5.9, 2),
             "MXN": (19.0, 2)}
# Client clocks (apps, browsers, chat widgets) usually send local offsets; back ends send Z.
_LOCAL_OFFSET_SHARE = {"web": 0.7, "mobile_app": 0.8, "email": 0.25, "chat": 0.6,
                       "messaging": 0.7, "voice": 0.3, "store": 0.5, "social": 0.6}
_MS_SHARE = {"web": 0.8, "mobile_app": 0.85, "email": 0.5, "chat": 0.7, "messaging": 0.7,
             "voice": 0.3, "store": 0.2, "social": 0.6}
_SATISFACTION = {"web": 0.89, "mobile_app": 0.88, "email": 0.87, "chat": 0.86,
                 "messaging": 0.88, "voice": 0.81, "store": 0.91, "social": 0.83}
_OUTCOME_PENALTY = {None: 0.0, "success": 0.0, "abandoned": 0.18, "failure": 0.40}
_SURVEYS = _Table([(("nps", None), 40), (("csat", 5), 20), (("csat", None), 8),
                   (("csat", 10), 14), (("ces", None), 18)])
_VIA = {"web": "web_widget", "mobile_app": "in_app", "email": "email", "chat": "chat",
        "messaging": "messaging", "voice": "ivr", "store": "sms", "social": "social_dm"}
_DEVICES = _Table([("desktop", 60), ("mobile", 33), ("tablet", 7)])
_PAYMENTS = _Table([("card", 55), ("paypal", 18), ("wallet", 15), ("bank_transfer", 7),
                    ("cod", 5)])
_QUEUES = {"support": "general", "delivery": "orders", "returns": "returns", "product": "sales"}
_APP_VERSIONS = ("5.12.1", "5.12.0", "5.11.4", "5.10.2")
_ERRORS = ("PSP_TIMEOUT", "PSP_TIMEOUT", "3DS_FAILED", "HTTP_503")
_CONTACT_VIA = ("email", "voice", "voice", "chat", "messaging")

_COMMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {"pos": ("Fast delivery, thanks!", "Really easy to find what I needed.",
                   "The support agent was friendly and quick.", "Love it 😍"),
           "neg": ("Took far too long to get an answer.", "The product was not as described.",
                   "Nobody got back to me."),
           "pay": ("Payment kept failing in the app.", "Checkout crashed twice before I gave up.",
                   "I was charged but the order shows as failed."),
           "late": ("Parcel arrived three days late.", "Tracking hasn't updated in a week.")},
    "fr": {"pos": ("Livraison rapide, merci !", "Site très facile à utiliser.",
                   "Conseiller très aimable et efficace."),
           "neg": ("Personne ne m'a répondu.", "Le produit ne correspond pas à la description.",
                   "Beaucoup trop d'attente au téléphone."),
           "pay": ("Le paiement a échoué deux fois sur l'application.",
                   "Impossible de valider ma commande."),
           "late": ("Colis arrivé avec trois jours de retard.", "Le suivi ne se met plus à jour.")},
    "ar": {"pos": ("التوصيل كان سريعاً، شكراً!", "خدمة العملاء ممتازة.", "الموقع سهل الاستخدام."),
           "neg": ("لم يرد علي أحد.", "المنتج مختلف عن الوصف.", "انتظرت طويلاً على الهاتف."),
           "pay": ("فشل الدفع مرتين في التطبيق.", "لا أستطيع إتمام الطلب."),
           "late": ("وصل الطلب متأخراً ثلاثة أيام.", "لم يتم تحديث التتبع منذ أسبوع.")},
    "id": {"pos": ("Pengiriman cepat, terima kasih!", "Pelayanannya ramah dan membantu.",
                   "Aplikasinya mudah dipakai."),
           "neg": ("Tidak ada yang membalas pesan saya.", "Barang tidak sesuai deskripsi.",
                   "Terlalu lama menunggu di telepon."),
           "pay": ("Pembayaran gagal terus di aplikasi.", "Tidak bisa menyelesaikan pesanan."),
           "late": ("Paket terlambat tiga hari.", "Pelacakan tidak diperbarui selama seminggu.")},
    "de": {"pos": ("Schnelle Lieferung, sehr zufrieden!", "Der Kundenservice war sehr hilfreich.",
                   "Die App ist übersichtlich."),
           "neg": ("Niemand hat sich bei mir gemeldet.",
                   "Der Artikel entsprach nicht der Beschreibung.",
                   "Viel zu lange Wartezeit am Telefon."),
           "pay": ("Die Zahlung in der App ist zweimal fehlgeschlagen.",
                   "Ich konnte die Bestellung nicht abschließen."),
           "late": ("Das Paket kam drei Tage zu spät.",
                    "Die Sendungsverfolgung wird seit einer Woche nicht aktualisiert.")},
    "es": {"pos": ("Entrega rápida, ¡gracias!", "La atención al cliente fue excelente.",
                   "La web es muy fácil de usar."),
           "neg": ("Nadie me ha respondido.", "El producto no coincide con la descripción.",
                   "Demasiada espera al teléfono."),
           "pay": ("El pago falló dos veces en la aplicación.", "No pude completar el pedido."),
           "late": ("El pedido llegó con tres días de retraso.",
                    "El seguimiento no se actualiza desde hace una semana.")},
    "ja": {"pos": ("配送が早くて助かりました。", "サポートの対応がとても丁寧でした。",
                   "アプリが使いやすいです。"),
           "neg": ("誰からも返事がありません。", "商品が説明と違いました。",
                   "電話の待ち時間が長すぎます。"),
           "pay": ("アプリで支払いが二回失敗しました。", "注文を完了できませんでした。"),
           "late": ("荷物が三日遅れて届きました。", "追跡情報が一週間更新されていません。")},
    "pt": {"pos": ("Entrega rápida, obrigado!", "O atendimento foi excelente.",
                   "O aplicativo é fácil de usar."),
           "neg": ("Ninguém me respondeu.", "O produto não corresponde à descrição.",
                   "Esperei demais no telefone."),
           "pay": ("O pagamento falhou duas vezes no aplicativo.",
                   "Não consegui finalizar o pedido."),
           "late": ("A encomenda chegou com três dias de atraso.",
                    "O rastreamento não é atualizado há uma semana.")},
}

_ARRIVAL_FEEDBACK_SHARE = 0.16  # of arrivals; the rest are interactions
_FAILED_PICK_SHARE = 0.08  # feedback drawn from recent failed interactions (unhappy answer more)
_FOLLOWUPS_PER_ARRIVAL = 0.01  # measured on steady runs; keeps the total near spec.rate
_INCIDENT_FORCE_SHARE = 0.12  # retry storm: extra interactions in the incident scope
_RECENT = 512


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
    _validate(spec)
    return _Run(spec).events()


class _Run:
    """Per-run tables drawn from the seed, and the event builders."""

    def __init__(self, spec: TrafficSpec) -> None:
        self.spec = spec
        self.rng = rng = Random(spec.seed)
        key = repr((spec.seed, float(spec.start), float(spec.duration), float(spec.rate),
                    spec.scenario, spec.tenants)).encode()
        self.run_id = hashlib.blake2b(key, digest_size=5).hexdigest()
        self.count = 0
        self.incident = incident_of(spec)
        self.blind = blind_spot_of(spec)
        n = len(spec.tenants)
        self.tenants = _Table([(t, 1 / (i + 1) ** 0.8) for i, t in enumerate(spec.tenants)])
        self.mood = {t: rng.uniform(-0.04, 0.04) for t in spec.tenants}
        # Each tenant has its own market mix; a customer keeps one locale (1000-slot lookup).
        self.salt = {t: rng.getrandbits(32) for t in spec.tenants}
        self.locale_slots: dict[str, list[tuple[str, str, int, str]]] = {}
        for tenant in spec.tenants:
            table = _Table([(row[:4], row[4] * rng.uniform(0.4, 1.6)) for row in _LOCALES])
            self.locale_slots[tenant] = [table.pick((i + 0.5) / 1000) for i in range(1000)]
        self.customers = max(100, min(10_000_000, int(spec.rate * spec.duration / (6 * n))))

    def _id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}-{self.run_id}-{self.count:x}"

    def _when(self, at: float, channel: str) -> tuple[int, bool]:
        """Quantise an event time upwards (ms, or whole seconds for second-precision clocks)."""
        if self.rng.random() < _MS_SHARE[channel]:
            return math.ceil(at * 1000), True
        return math.ceil(at) * 1000, False

    def _offset(self, channel: str, locale_offset: int) -> int | None:
        return locale_offset if self.rng.random() < _LOCAL_OFFSET_SHARE[channel] else None

    def interaction(self, at: float) -> tuple[int, dict[str, Any], tuple[Any, ...]]:
        rnd = self.rng.random
        incident = self.incident
        forced = (incident is not None and incident.start <= at < incident.end
                  and rnd() < _INCIDENT_FORCE_SHARE)
        if forced:
            assert incident is not None
            tenant, channel = incident.tenant, incident.channel
            kind = _INCIDENT_KINDS.pick(rnd())
        else:
            tenant = self.tenants.pick(rnd())
            channel = _CHANNELS.pick(rnd())
            kind = _KINDS[channel].pick(rnd())
        touchpoint = _TOUCHPOINT[kind] or _SUPPORT_TOUCHPOINTS.pick(rnd())
        ms, with_ms = self._when(at, channel)
        hit = incident is not None and incident.covers(tenant, channel, touchpoint, ms / 1000)
        outcome = (_INCIDENT_OUTCOMES if hit else _OUTCOMES[kind]).pick(rnd())
        index = int(self.customers * rnd() ** 2)  # repeat customers are the common case
        mixed = ((index + 1) * 0x9E3779B1 ^ self.salt[tenant]) & 0xFFFFFFFF
        locale = self.locale_slots[tenant][mixed % 1000]
        customer = f"c-{mixed:08x}"
        offset = self._offset(channel, locale[2])
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
            event["locale"] = locale[0]
        event["kind"] = kind
        if outcome is not None:
            event["outcome"] = outcome
        if rnd() < 0.85:
            sigma = 0.9
            event["duration_ms"] = int(_MEDIAN_MS[kind] * math.exp(sigma * self.rng.gauss()))
        if kind == "purchase" or (kind == "return_request" and rnd() < 0.5):
            factor, decimals = _CURRENCY[locale[3]]
            amount = round(self.rng.lognormvariate(3.9, 0.7) * factor, decimals)
            event["value"] = int(amount) if decimals <= 0 else amount
            event["currency"] = locale[3]
        attributes = self._attributes(channel, kind, touchpoint, outcome, hit, rnd)
        if attributes:
            event["attributes"] = attributes
        link = (event_id, tenant, channel, event.get("touchpoint"), customer, locale, outcome,
                hit, kind, ms)
        return ms, event, link

    def _attributes(self, channel: str, kind: str, touchpoint: str, outcome: str | None,
                    hit: bool, rnd: Any) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        if channel == "web":
            attributes["device"] = _DEVICES.pick(rnd())
        elif channel == "mobile_app":
            attributes["os"] = "ios" if rnd() < 0.48 else "android"
            attributes["app_version"] = _APP_VERSIONS[int(rnd() * len(_APP_VERSIONS))]
        elif channel == "store":
            attributes["store_id"] = f"store-{1 + int(rnd() * 40):03d}"
        elif channel in ("chat", "messaging", "voice"):
            attributes["queue"] = _QUEUES.get(touchpoint, "general")
        if channel in ("web", "mobile_app") and rnd() < 0.3:
            attributes["ab_test"] = "b" if rnd() < 0.5 else "a"
        if kind in ("add_to_cart", "checkout", "purchase"):
            attributes["items"] = 1 + int(rnd() ** 2 * 6)
            if kind != "add_to_cart":
                attributes["payment_method"] = _PAYMENTS.pick(rnd())
        if rnd() < 0.4:
            attributes["returning"] = rnd() < 0.6
        if hit and outcome == "failure":
            attributes["error_code"] = _ERRORS[int(rnd() * len(_ERRORS))]
        return attributes

    def feedback(self, at: float, link: tuple[Any, ...], linked: bool
                 ) -> tuple[int, dict[str, Any], tuple[Any, ...] | None]:
        rng = self.rng
        rnd = rng.random
        (interaction_id, tenant, channel, touchpoint, customer, locale, outcome, hit, kind,
         after) = link
        ms, with_ms = self._when(at, channel)
        ms = max(ms, after)  # never before the interaction it rates
        if not with_ms:
            ms = -(-ms // 1000) * 1000
        survey, scale = _SURVEYS.pick(rnd())
        level = (_SATISFACTION[channel] + self.mood[tenant] - _OUTCOME_PENALTY[outcome]
                 - (0.2 if hit else 0.0) + 0.13 * rng.gauss())
        level = 0.0 if level < 0 else 1.0 if level > 1 else level
        if survey == "nps":
            score = int(level * 10 + 0.5)
        elif survey == "ces":
            score = 1 + int(level * 6 + 0.5)
        else:
            score = 1 + int(level * ((scale or 5) - 1) + 0.5)
        unhappy = needs_followup(survey, score, scale)
        event = self._header("fb", "feedback", ms, with_ms,
                             (tenant, channel, touchpoint, customer, locale))
        event_id = event["event_id"]
        event["survey"] = survey
        event["score"] = score
        if scale is not None:
            event["scale"] = scale
        if rnd() < (0.5 if unhappy else 0.25):
            if unhappy and outcome == "failure" and touchpoint == "checkout":
                mood = "pay"
            elif unhappy:
                mood = "late" if touchpoint == "delivery" else "neg"
            else:
                mood = "pos" if level >= 0.6 else "neg"
            options = _COMMENTS[locale[1]][mood]
            event["comment"] = options[int(rnd() * len(options))]
        if linked:
            event["interaction_id"] = interaction_id
        event["attributes"] = {"survey_via": _VIA[channel], "trigger": kind if linked else
                               "relationship"}
        if not unhappy:
            return ms, event, None
        return ms, event, (event_id, tenant, channel, touchpoint, customer, locale)

    def _header(self, prefix: str, kind: str, ms: int, with_ms: bool,
                who: tuple[Any, ...]) -> dict[str, Any]:
        """The common fields of a feedback or follow-up, for one known customer."""
        tenant, channel, touchpoint, customer, locale = who
        event: dict[str, Any] = {"event_id": self._id(prefix), "type": kind}
        event["occurred_at"] = stamp(ms, self._offset(channel, locale[2]), with_ms)
        event |= {"tenant": tenant, "channel": channel}
        if touchpoint is not None:
            event["touchpoint"] = touchpoint
        event |= {"customer_id": customer, "locale": locale[0]}
        return event

    def plan_followup(self, feedback_ms: int, case: tuple[Any, ...]) -> tuple[int, tuple] | None:
        """When and how an unhappy customer is followed up, if ever (~15% never, ~12% late)."""
        rng = self.rng
        u = rng.random()
        if u < 0.15:
            return None
        if u < 0.20:
            action, hours = "no_action", rng.uniform(2, 24)
        elif u < 0.32:
            action, hours = "contacted", rng.uniform(48.5, 120)
        else:
            action = "resolved" if rng.random() < 0.25 else "contacted"
            hours = min(47.5, rng.lognormvariate(math.log(5), 0.9))
        agent = f"agent-{1 + int(rng.random() * 60):03d}" if rng.random() < 0.8 else None
        due = feedback_ms + int(hours * 3_600_000)
        return due, (case, action, agent, 0)

    def followup(self, ms: int, pending: tuple[Any, ...]) -> tuple[dict[str, Any], tuple | None]:
        (feedback_id, tenant, channel, touchpoint, customer, locale), action, agent, stage = pending
        rng = self.rng
        event = self._header("fu", "followup", ms, True,
                             (tenant, channel, touchpoint, customer, locale))
        event["feedback_id"] = feedback_id
        event["action"] = action
        if agent is not None:
            event["agent"] = agent
        event["attributes"] = {"contact_via": _CONTACT_VIA[int(rng.random() * 5)]}
        if stage == 0 and action == "contacted" and rng.random() < 0.4:
            later = ms + int(rng.uniform(2, 72) * 3_600_000)
            return event, (later, (pending[0], "resolved", agent, 1))
        return event, None

    def events(self) -> Iterator[dict[str, Any]]:
        spec, rng = self.spec, self.rng
        rnd, expovariate = rng.random, rng.expovariate
        heap: list[tuple[int, int, Any]] = []
        push, pop = heapq.heappush, heapq.heappop
        seq = 0
        pending = 0
        recent: list[tuple[Any, ...]] = []
        failed: list[tuple[Any, ...]] = []
        blind = self.blind
        arrivals = spec.rate / (1 + _FOLLOWUPS_PER_ARRIVAL)
        end = spec.start + spec.duration
        end_ms = end * 1000
        at = spec.start
        while True:
            at += expovariate(arrivals)
            if at >= end:
                break
            now_ms = at * 1000
            while heap and heap[0][0] <= now_ms:
                ms, _, item = pop(heap)
                if isinstance(item, dict):
                    yield item
                    continue
                pending -= 1
                event, again = self.followup(ms, item)
                if again is not None and pending < MAX_PENDING_FOLLOWUPS:
                    seq += 1
                    pending += 1
                    push(heap, (again[0], seq, again[1]))
                yield event
            link = None
            if recent and rnd() < _ARRIVAL_FEEDBACK_SHARE:
                source = failed if failed and rnd() < _FAILED_PICK_SHARE else recent
                i = int(rnd() * len(source))
                link = source[i]
                source[i] = source[-1]
                source.pop()
                if blind is not None and (link[1], link[2]) == blind:
                    link = None
            if link is None:
                ms, event, link = self.interaction(at)
                pool = failed if link[6] == "failure" else recent
                if len(pool) < _RECENT:
                    pool.append(link)
                else:
                    pool[int(rnd() * _RECENT)] = link
                seq += 1
                push(heap, (ms, seq, event))
                continue
            ms, event, case = self.feedback(at, link, rnd() < 0.8)
            seq += 1
            push(heap, (ms, seq, event))
            if case is not None and pending < MAX_PENDING_FOLLOWUPS:
                plan = self.plan_followup(ms, case)
                if plan is not None:
                    seq += 1
                    pending += 1
                    push(heap, (plan[0], seq, plan[1]))
        while heap and heap[0][0] < end_ms:
            ms, _, item = pop(heap)
            if isinstance(item, dict):
                yield item
                continue
            event, again = self.followup(ms, item)
            if again is not None:
                seq += 1
                push(heap, (again[0], seq, again[1]))
            yield event
