-- Raw events, one logical row per event_id (ReplacingMergeTree keeps the last
-- copy; read with FINAL or argMax for exact answers). The sort key is the
-- event_id alone so that a resent duplicate always collapses, whatever else
-- it carries. No partitioning by event time: a duplicate in another month
-- would escape deduplication.
-- Runs unchanged on ClickHouse 18.16 and current; LowCardinality needs a
-- setting on 18.16 that the connection layer sets.

CREATE DATABASE IF NOT EXISTS {database};

CREATE TABLE IF NOT EXISTS {database}.interactions
(
    event_id String,
    tenant LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    occurred_at DateTime('UTC'),
    occurred_ms UInt16,
    utc_offset_min Int16,
    customer_id String,
    locale LowCardinality(String),
    attributes String,
    kind LowCardinality(String),
    outcome LowCardinality(String),
    duration_ms Nullable(UInt32),
    value Nullable(Float64),
    currency LowCardinality(String),
    ingested_at DateTime('UTC'),
    source_partition UInt32,
    source_offset UInt64
)
ENGINE = ReplacingMergeTree()
ORDER BY event_id;

CREATE TABLE IF NOT EXISTS {database}.feedback
(
    event_id String,
    tenant LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    occurred_at DateTime('UTC'),
    occurred_ms UInt16,
    utc_offset_min Int16,
    customer_id String,
    locale LowCardinality(String),
    attributes String,
    survey LowCardinality(String),
    score UInt8,
    scale UInt8,
    comment String,
    interaction_id String,
    ingested_at DateTime('UTC'),
    source_partition UInt32,
    source_offset UInt64
)
ENGINE = ReplacingMergeTree()
ORDER BY event_id;

CREATE TABLE IF NOT EXISTS {database}.followups
(
    event_id String,
    tenant LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    occurred_at DateTime('UTC'),
    occurred_ms UInt16,
    utc_offset_min Int16,
    customer_id String,
    locale LowCardinality(String),
    attributes String,
    feedback_id String,
    action LowCardinality(String),
    agent String,
    ingested_at DateTime('UTC'),
    source_partition UInt32,
    source_offset UInt64
)
ENGINE = ReplacingMergeTree()
-- feedback_id first: scoring looks follow-ups up by the feedback they close.
-- A resent follow-up carries the same feedback_id, so duplicates still collapse.
ORDER BY (feedback_id, event_id);
