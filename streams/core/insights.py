"""Rows of ``cx.comment_insights``: one per feedback event id, what its comment says. No I/O.

The sentiment is stored as the same whole thousandths the comment's fact sums
(``stats.sentiment_milli``), so a recomputation from the insight rows (``cxpulse
verify``) gives the stored minute statistics exactly.
"""

from __future__ import annotations

from typing import Any, Final

from streams.core.stats import MILLI, Scope, sentiment_milli

INSIGHT_COLUMNS: Final = ("event_id", "tenant", "channel", "touchpoint", "occurred_at",
                          "occurred_ms", "locale", "comment", "language", "sentiment", "label",
                          "emotion", "themes", "model_version", "enriched_at", "revision",
                          "version")
InsightRow = tuple[Any, ...]


def insight_row(event_id: str, scope: Scope, occurred_ms: int, locale: str, comment: str, *,
                language: str, sentiment: float, label: str, emotion: str,
                themes: tuple[str, ...] | list[str], model_version: str,
                enriched_s: int, revision: int = 0) -> InsightRow:
    """One insight row in ``INSIGHT_COLUMNS`` order; ``comment`` must already be masked.

    Versioned (revision << 32) + enriched_at: the feedback's highest revision wins, and
    within it the newest enrichment. An empty ``comment`` is a revision without one: the
    row withdraws an older revision's comment and is never listed or counted."""
    return (event_id, *scope, occurred_ms // 1000, occurred_ms % 1000, locale, comment,
            language, sentiment_milli(sentiment) / MILLI, label, emotion, list(themes),
            model_version, enriched_s, revision, (revision << 32) + enriched_s)
