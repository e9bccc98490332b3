"""The traffic model's tables: loose industry shapes, not measurements.

Kept apart from the event builders so the shape of the traffic can be read and
tuned in one place. Order matters: a table's items are picked by bisecting one
uniform draw, so reordering one changes every run.
"""

from __future__ import annotations

import math
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class Table:
    """Weighted choice by bisecting one uniform draw: much cheaper than Random.choices."""

    __slots__ = ("cum", "items", "total", "weights")

    def __init__(self, pairs: Sequence[tuple[Any, float]]) -> None:
        self.items = tuple(item for item, _ in pairs)
        self.weights = tuple(weight for _, weight in pairs)
        cum, acc = [], 0.0
        for _, weight in pairs:
            acc += weight
            cum.append(acc)
        cum[-1] = math.inf  # a draw that rounds up to the total still lands on the last item
        self.cum, self.total = cum, acc

    def pick(self, u: float) -> Any:
        return self.items[bisect(self.cum, u * self.total)]

    def share(self, item: Any) -> float:
        """The probability that ``pick`` returns ``item`` for a uniform draw."""
        pairs = zip(self.items, self.weights, strict=True)
        return sum(weight for i, weight in pairs if i == item) / self.total

    def with_share(self, item: Any, share: float) -> Table:
        """This table with ``item`` forced on a ``share`` of picks, the rest picked as before."""
        scale = (1 - share) / self.total
        pairs = zip(self.items, self.weights, strict=True)
        return Table([(item, share), *((i, weight * scale) for i, weight in pairs)])


def tenant_table(tenants: Sequence[str]) -> Table:
    """Tenants by traffic: a few large ones and a long tail (weight 1 / rank ** 0.8)."""
    return Table([(t, 1 / (i + 1) ** 0.8) for i, t in enumerate(tenants)])


@dataclass(frozen=True, slots=True)
class Locale:
    """A market: how its customers write and pay, and their devices' clock offset."""

    tag: str
    """BCP 47, as sent in ``locale``."""
    language: str
    """The key of ``COMMENTS``."""
    utc_offset_min: int
    currency: str


CHANNELS = Table([("web", 34), ("mobile_app", 28), ("email", 8), ("chat", 8),
                  ("messaging", 6), ("voice", 6), ("store", 6), ("social", 4)])
SHOP = [("visit", 22), ("search", 17), ("product_view", 24), ("add_to_cart", 11),
        ("checkout", 8), ("purchase", 6), ("cart_abandon", 4), ("support_contact", 5),
        ("return_request", 3)]
KINDS = {
    "web": Table(SHOP),
    "mobile_app": Table([(k, w * 1.3 if k in ("search", "product_view") else w)
                         for k, w in SHOP]),
    "email": Table([("visit", 55), ("purchase", 10), ("support_contact", 25),
                    ("support_resolved", 10)]),
    "chat": Table([("support_contact", 48), ("support_resolved", 34), ("return_request", 12),
                   ("purchase", 6)]),
    "messaging": Table([("support_contact", 44), ("support_resolved", 30),
                        ("return_request", 12), ("purchase", 9), ("visit", 5)]),
    "voice": Table([("support_contact", 55), ("support_resolved", 30), ("return_request", 15)]),
    "store": Table([("visit", 35), ("purchase", 40), ("return_request", 15),
                    ("support_contact", 10)]),
    "social": Table([("visit", 50), ("product_view", 20), ("support_contact", 25),
                     ("support_resolved", 5)]),
}
SUPPORT_TOUCHPOINTS = Table([("support", 50), ("delivery", 35), ("returns", 10), ("product", 5)])
TOUCHPOINT = {  # None: pick from SUPPORT_TOUCHPOINTS
    "visit": "unspecified", "search": "search", "product_view": "product",
    "add_to_cart": "product", "checkout": "checkout", "purchase": "checkout",
    "cart_abandon": "checkout", "support_contact": None, "support_resolved": None,
    "return_request": "returns",
}
OUTCOMES = {
    "visit": Table([(None, 60), ("success", 35), ("abandoned", 5)]),
    "search": Table([("success", 90), ("failure", 8), ("abandoned", 2)]),
    "product_view": Table([(None, 30), ("success", 66), ("abandoned", 4)]),
    "add_to_cart": Table([("success", 96), ("failure", 4)]),
    "checkout": Table([("success", 90), ("failure", 4), ("abandoned", 6)]),
    "purchase": Table([("success", 97), ("failure", 3)]),
    "cart_abandon": Table([("abandoned", 1)]),
    "support_contact": Table([("success", 80), ("abandoned", 12), ("failure", 8)]),
    "support_resolved": Table([("success", 90), ("failure", 10)]),
    "return_request": Table([("success", 88), ("failure", 12)]),
}
INCIDENT_OUTCOMES = Table([("failure", 60), ("abandoned", 20), ("success", 20)])
SPIKE_FAILURE_SHARE = 0.43  # failure-spike: with the normal ~3% failures, ~45% of checkouts fail
DEGRADED_FAILURE_SHARE = 0.33  # degraded: with the normal failures, ~35% of web interactions fail
INCIDENT_KINDS = Table([("checkout", 70), ("purchase", 30)])
MEDIAN_MS = {
    "visit": 95_000, "search": 900, "product_view": 28_000, "add_to_cart": 1_400,
    "checkout": 75_000, "purchase": 4_000, "cart_abandon": 180_000, "support_contact": 340_000,
    "support_resolved": 420_000, "return_request": 150_000,
}
# (locale, weight)
LOCALES = (
    (Locale("en-GB", "en", 0, "GBP"), 14), (Locale("en-US", "en", -300, "USD"), 12),
    (Locale("fr-FR", "fr", 60, "EUR"), 14), (Locale("de-DE", "de", 60, "EUR"), 12),
    (Locale("es-ES", "es", 60, "EUR"), 7), (Locale("ar", "ar", 180, "SAR"), 8),
    (Locale("id-ID", "id", 420, "IDR"), 10), (Locale("ja-JP", "ja", 540, "JPY"), 6),
    (Locale("en-IN", "en", 330, "INR"), 5), (Locale("pt-BR", "pt", -180, "BRL"), 5),
    (Locale("es-MX", "es", -360, "MXN"), 3),
)
# major units per EUR, decimals
CURRENCY = {"GBP": (0.85, 2), "USD": (1.1, 2), "EUR": (1.0, 2), "SAR": (4.1, 2),
            "IDR": (17_500.0, -2), "JPY": (165.0, 0), "INR": (92.0, 2), "BRL": (5.9, 2),
            "MXN": (19.0, 2)}
# Client clocks (apps, browsers, chat widgets) usually send local offsets; back ends send Z.
LOCAL_OFFSET_SHARE = {"web": 0.7, "mobile_app": 0.8, "email": 0.25, "chat": 0.6,
                      "messaging": 0.7, "voice": 0.3, "store": 0.5, "social": 0.6}
MS_SHARE = {"web": 0.8, "mobile_app": 0.85, "email": 0.5, "chat": 0.7, "messaging": 0.7,
            "voice": 0.3, "store": 0.2, "social": 0.6}
SATISFACTION = {"web": 0.89, "mobile_app": 0.88, "email": 0.87, "chat": 0.86,
                "messaging": 0.88, "voice": 0.81, "store": 0.91, "social": 0.83}
OUTCOME_PENALTY = {None: 0.0, "success": 0.0, "abandoned": 0.18, "failure": 0.40}
SURVEYS = Table([(("nps", None), 40), (("csat", 5), 20), (("csat", None), 8),
                 (("csat", 10), 14), (("ces", None), 18)])
SURVEY_VIA = {"web": "web_widget", "mobile_app": "in_app", "email": "email", "chat": "chat",
              "messaging": "messaging", "voice": "ivr", "store": "sms", "social": "social_dm"}
DEVICES = Table([("desktop", 60), ("mobile", 33), ("tablet", 7)])
PAYMENTS = Table([("card", 55), ("paypal", 18), ("wallet", 15), ("bank_transfer", 7),
                  ("cod", 5)])
QUEUES = {"support": "general", "delivery": "orders", "returns": "returns", "product": "sales"}
APP_VERSIONS = ("5.12.1", "5.12.0", "5.11.4", "5.10.2")
ERROR_CODES = ("PSP_TIMEOUT", "PSP_TIMEOUT", "3DS_FAILED", "HTTP_503")
CONTACT_VIA = ("email", "voice", "voice", "chat", "messaging")

COMMENTS: dict[str, dict[str, tuple[str, ...]]] = {
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

ARRIVAL_FEEDBACK_SHARE = 0.16  # of arrivals; the rest are interactions
FAILED_PICK_SHARE = 0.08  # feedback drawn from recent failed interactions (unhappy answer more)
FOLLOWUPS_PER_ARRIVAL = 0.01  # measured on steady runs; keeps the total near spec.rate
INCIDENT_FORCE_SHARE = 0.12  # retry storm: extra interactions in the incident scope
INCIDENT_PENALTY = 0.2  # satisfaction lost by customers whose interaction hit a failing scope
# Satisfaction lost by answers given in a gloomy scope (nps-drop, degraded): NPS falls by
# ~120 points (web: +33 to -88), CSAT and CES with it. Large on purpose: a channel with a few
# dozen interactions an hour gets only a few NPS answers an hour, and a drop must be real at
# that sample to be caught in hours (0.13 gives a ~50-point fall, visible only at volume).
NPS_DROP_PENALTY = 0.35
