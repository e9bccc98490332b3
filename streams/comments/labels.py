"""The label sets of comment analytics and the value one comment yields; no I/O.

Every set is fixed and small, so a Prometheus label or a ClickHouse column made
from it stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

LANGUAGES: Final = ("en", "fr", "id", "ar", "es", "de", "pt")
"""The languages the heads are trained and measured on (ISO 639-1)."""
UNKNOWN_LANGUAGE: Final = "und"

SENTIMENTS: Final = ("negative", "neutral", "positive")
EMOTIONS: Final = ("anger", "frustration", "disappointment", "confusion", "neutral",
                   "satisfaction", "delight")
EMOTIONS_BY_SENTIMENT: Final = {
    "negative": ("anger", "frustration", "disappointment", "confusion"),
    "neutral": ("neutral", "confusion"),
    "positive": ("satisfaction", "delight")}
"""The emotions a comment of each sentiment carries (``data/README.md``, labelling rules)."""
THEMES: Final = ("delivery", "payment", "price", "product_quality", "stock", "usability",
                 "customer_service", "returns")
"""Built-in themes: ``usability`` is website/app usability, ``returns`` returns/refunds."""


@dataclass(frozen=True, slots=True)
class Insight:
    """What one comment says."""

    language: str
    """One of the configured languages, or ``und``."""
    sentiment: float
    """-1 (negative) .. 1 (positive)."""
    label: str
    """One of ``SENTIMENTS``."""
    emotion: str
    """One of ``EMOTIONS``."""
    themes: tuple[str, ...]
    """Built-in ``THEMES`` first, then configured ones; possibly empty."""
