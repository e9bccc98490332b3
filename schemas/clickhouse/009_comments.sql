-- Comment analytics (issue 9).
--
-- comment_insights: what each feedback comment says, one row per feedback event
-- id: the comment as stored (personal data already masked by the writer), its
-- language, sentiment (-1..1, in thousandths like the sums below), label, emotion,
-- themes (built-in and configured) and the model version that read it. An event
-- enriched again (a replay after a crash, a duplicate, or a newer model) writes
-- the same key: ReplacingMergeTree(enriched_at) keeps the newest enrichment, and
-- on a tie (the same second) the last written. Read it with FINAL or argMax.
-- Sorted by (tenant, event_id): the copies of one event carry the same tenant, so
-- they collapse, and listings per tenant read only that tenant's range. Partitioned
-- by month of the feedback's time like the raw tables (copies of one event share
-- it), so CX_RETENTION_DAYS forgets old comments with the raw events.
--
-- Per-minute comment statistics beside the score statistics, in the same tables
-- and by the same rules: each comment is one fact in score_facts keyed
-- 'comment:<event id>' (never the feedback's own fact row), summed into the
-- minutes, hours and days. The sentiment sums are whole thousandths (signed), so
-- sums stay exact; theme_<name> counts the comments naming one built-in theme.
-- Rows written before this migration read 0: no comments counted there.
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: each ALTER adds one table's
-- columns at once, and a migrator run again after a kill first drops from it the
-- columns that are already there (streams/warehouse/resume.py).

CREATE TABLE IF NOT EXISTS {database}.comment_insights
(
    event_id String,
    tenant LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    occurred_at DateTime('UTC'),
    occurred_ms UInt16,
    locale LowCardinality(String),
    comment String,
    language LowCardinality(String),
    sentiment Float32,
    label LowCardinality(String),
    emotion LowCardinality(String),
    themes Array(String),
    model_version LowCardinality(String),
    enriched_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(enriched_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, event_id);

ALTER TABLE {database}.score_facts
    ADD COLUMN comments UInt8,
    ADD COLUMN sentiment_sum Int32,
    ADD COLUMN sentiment_sum_sq UInt32,
    ADD COLUMN comments_negative UInt8,
    ADD COLUMN theme_delivery UInt8,
    ADD COLUMN theme_payment UInt8,
    ADD COLUMN theme_price UInt8,
    ADD COLUMN theme_product_quality UInt8,
    ADD COLUMN theme_stock UInt8,
    ADD COLUMN theme_usability UInt8,
    ADD COLUMN theme_customer_service UInt8,
    ADD COLUMN theme_returns UInt8;

ALTER TABLE {database}.score_minutes
    ADD COLUMN comments UInt64,
    ADD COLUMN sentiment_sum Int64,
    ADD COLUMN sentiment_sum_sq UInt64,
    ADD COLUMN comments_negative UInt64,
    ADD COLUMN theme_delivery UInt64,
    ADD COLUMN theme_payment UInt64,
    ADD COLUMN theme_price UInt64,
    ADD COLUMN theme_product_quality UInt64,
    ADD COLUMN theme_stock UInt64,
    ADD COLUMN theme_usability UInt64,
    ADD COLUMN theme_customer_service UInt64,
    ADD COLUMN theme_returns UInt64;

ALTER TABLE {database}.score_hours
    ADD COLUMN comments UInt64,
    ADD COLUMN sentiment_sum Int64,
    ADD COLUMN sentiment_sum_sq UInt64,
    ADD COLUMN comments_negative UInt64,
    ADD COLUMN theme_delivery UInt64,
    ADD COLUMN theme_payment UInt64,
    ADD COLUMN theme_price UInt64,
    ADD COLUMN theme_product_quality UInt64,
    ADD COLUMN theme_stock UInt64,
    ADD COLUMN theme_usability UInt64,
    ADD COLUMN theme_customer_service UInt64,
    ADD COLUMN theme_returns UInt64;

ALTER TABLE {database}.score_days
    ADD COLUMN comments UInt64,
    ADD COLUMN sentiment_sum Int64,
    ADD COLUMN sentiment_sum_sq UInt64,
    ADD COLUMN comments_negative UInt64,
    ADD COLUMN theme_delivery UInt64,
    ADD COLUMN theme_payment UInt64,
    ADD COLUMN theme_price UInt64,
    ADD COLUMN theme_product_quality UInt64,
    ADD COLUMN theme_stock UInt64,
    ADD COLUMN theme_usability UInt64,
    ADD COLUMN theme_customer_service UInt64,
    ADD COLUMN theme_returns UInt64;
