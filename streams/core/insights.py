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
                          "emotion", "themes", "model_version", "enriched_at")
InsightRow = tuple[Any, ...]


def insight_row(event_id: str, scope: Scope, occurred_ms: int, locale: str, comment: str, *,
                language: str, sentiment: float, label: str, emotion: str,
                themes: tuple[str, ...] | list[str], model_version: str,
                enriched_s: int) -> InsightRow:
    """One insight row in ``INSIGHT_COLUMNS`` order; ``comment`` must already be masked."""
    return (event_id, *scope, occurred_ms // 1000, occurred_ms % 1000, locale, comment,
            language, sentiment_milli(sentiment) / MILLI, label, emotion, list(themes),
            model_version, enriched_s)
