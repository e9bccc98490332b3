"""Store comment insights and their facts; list recent comments with what they say.

The enrichment's SQL (its domain is ``streams.comments.enrichment``). ``store_insights``
is the enrichment consumer's write: insight rows keyed by event
id (the newest enrichment wins) and one fact per comment (``comment:<event id>``)
beside the score facts. It returns the scope-minutes the facts touch; the
caller rewrites them with ``queries.scoring.rewrite_minutes``, as scoring does,
so duplicates, replays and re-enrichment all converge on the sum of the
deduplicated facts.
"""

from __future__ import annotations

import time
from typing import Any

from streams.comments.enrichment import Enriched, Enrichment
from streams.comments.labels import SENTIMENTS
from streams.core.facts import FACT_COLUMNS, comment_fact
from streams.core.insights import INSIGHT_COLUMNS, insight_row
from streams.core.units import format_time
from streams.queries.scoring import MinuteKey, query_in, rewrite_minutes
from streams.warehouse import Warehouse
from streams.warehouse.sql import OCCURRED_MS, sql_literal


def store_insights(warehouse: Warehouse, enriched: list[Enriched], model_version: str,
                   now_s: int | None = None) -> set[MinuteKey]:
    """Write the insight rows, then the facts of what the table now holds for those events;
    return the scope-minutes touched (for ``scoring.rewrite_minutes``).

    The facts are built from the insight rows read back (FINAL), not from the batch:
    a stale replay (an older ``enriched_at``, or an older revision) loses in the
    insight table, and its facts then say what the winner says, so minutes always
    match the insights. A winner without a comment writes a zero comment fact.
    ``now_s`` is the ``enriched_at`` (default: now).
    """
    if not enriched:
        return set()
    enriched_s = int(time.time()) if now_s is None else now_s
    rows = []
    for item in enriched:
        insight = item.insight
        if insight is None:
            rows.append(insight_row(
                item.event_id, item.scope, item.occurred_ms, item.locale, "", language="",
                sentiment=0.0, label="", emotion="", themes=(), model_version=model_version,
                enriched_s=enriched_s, revision=item.revision))
            continue
        rows.append(insight_row(
            item.event_id, item.scope, item.occurred_ms, item.locale, item.comment,
            language=insight.language, sentiment=insight.sentiment, label=insight.label,
            emotion=insight.emotion, themes=insight.themes, model_version=model_version,
            enriched_s=enriched_s, revision=item.revision))
    warehouse.insert("comment_insights", rows, INSIGHT_COLUMNS)
    keys = sorted({(item.scope[0], item.event_id) for item in enriched})
    facts = [comment_fact(row["event_id"], (row["tenant"], row["channel"], row["touchpoint"]),
                          int(row["at_ms"]), float(row["sentiment"]), row["label"],
                          row["themes"], int(row["revision"]), row["comment"] != "")
             for row in query_in(warehouse, keys, lambda values: (
                 f"SELECT event_id, tenant, channel, touchpoint, {OCCURRED_MS} AS at_ms, "
                 f"sentiment, label, themes, revision, comment "
                 f"FROM {warehouse.database}.comment_insights FINAL "
                 f"WHERE (tenant, event_id) IN {values}"))]
    warehouse.insert("score_facts", facts, FACT_COLUMNS)
    return {fact[:4] for fact in facts}


def store_enrichment(warehouse: Warehouse, enrichment: Enrichment, model_version: str) -> int:
    """Insights, then their comment facts' minutes, in the order the worker's sink writes
    and settles them (for offline loads); returns the minutes rewritten."""
    return rewrite_minutes(warehouse, store_insights(warehouse, enrichment.enriched,
                                                     model_version))


LISTED = ("event_id", "tenant", "channel", "touchpoint", "locale", "comment", "language",
          "sentiment", "label", "emotion", "themes", "model_version")


def recent_comments(warehouse: Warehouse, *, tenant: str | None = None,
                    channel: str | None = None, theme: str | None = None,
                    sentiment: str | None = None, since_s: int | None = None,
                    limit: int = 50) -> list[dict[str, Any]]:
    """The newest comments with their insights (``comment_insights`` FINAL), newest first.

    ``sentiment`` is a label (negative, neutral, positive); ``theme`` any theme name,
    built-in or configured; ``occurred_at`` and ``enriched_at`` come as RFC 3339 UTC.
    """
    if sentiment is not None and sentiment not in SENTIMENTS:
        raise ValueError(f"unknown sentiment {sentiment!r} (known: {', '.join(SENTIMENTS)})")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    where = ["comment != ''"] + [f"{column} = {sql_literal(value)}" for column, value in
             (("tenant", tenant), ("channel", channel), ("label", sentiment)) if value]
    if theme:
        where.append(f"has(themes, {sql_literal(theme)})")
    if since_s is not None:
        where.append(f"occurred_at >= toDateTime({int(since_s)})")
    rows = warehouse.query(
        f"SELECT {', '.join(LISTED)}, {OCCURRED_MS} AS at_ms, "
        f"toUnixTimestamp(enriched_at) AS enriched_s "
        f"FROM {warehouse.database}.comment_insights FINAL WHERE {' AND '.join(where)} "
        f"ORDER BY at_ms DESC, event_id LIMIT {int(limit)}")
    return [{**{column: row[column] for column in LISTED},
             "sentiment": round(float(row["sentiment"]), 3), "themes": list(row["themes"]),
             "occurred_at": format_time(int(row["at_ms"])),
             "enriched_at": format_time(int(row["enriched_s"]) * 1000, millis=False)}
            for row in rows]
