-- Partition by month of event time, so a window or a retention pass touches only
-- its months (ALTER TABLE ... DROP PARTITION is how CX_RETENTION_DAYS forgets).
-- An engine cannot be altered in place: each table is rebuilt under a new name,
-- its rows carried over, and the names swapped. Every step can run again after a
-- crash (leftovers of an attempt are dropped first; copying twice is harmless,
-- the engines keep one row per key). The copies run one month at a time (the
-- chunk marker, see streams/warehouse/resume.py), and after each swap the
-- migrator copies what workers wrote to the old table since its copy began, so
-- workers may keep running.
-- Deduplication is per partition: the copies of one event id (same occurred_at,
-- as a resent event has) share a partition; score_facts was always keyed by
-- minute, so an id reused at another time was never one event.
-- score_minutes is now sorted by time first: every read of it is a time range
-- (window edges, the detector's spans, rollup rebuilds), and the key names the
-- same columns, so a rewritten minute still replaces its row.

DROP TABLE IF EXISTS {database}.interactions_v5;
DROP TABLE IF EXISTS {database}.interactions_v6;
CREATE TABLE {database}.interactions_v6
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
PARTITION BY toYYYYMM(occurred_at)
ORDER BY event_id;
INSERT INTO {database}.interactions_v6 SELECT * FROM {database}.interactions
WHERE /* chunk per toYYYYMM(occurred_at) */ 1;
RENAME TABLE {database}.interactions TO {database}.interactions_v5, {database}.interactions_v6 TO {database}.interactions;
DROP TABLE {database}.interactions_v5;

DROP TABLE IF EXISTS {database}.feedback_v5;
DROP TABLE IF EXISTS {database}.feedback_v6;
CREATE TABLE {database}.feedback_v6
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
PARTITION BY toYYYYMM(occurred_at)
ORDER BY event_id;
INSERT INTO {database}.feedback_v6 SELECT * FROM {database}.feedback
WHERE /* chunk per toYYYYMM(occurred_at) */ 1;
RENAME TABLE {database}.feedback TO {database}.feedback_v5, {database}.feedback_v6 TO {database}.feedback;
DROP TABLE {database}.feedback_v5;

DROP TABLE IF EXISTS {database}.followups_v5;
DROP TABLE IF EXISTS {database}.followups_v6;
CREATE TABLE {database}.followups_v6
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
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (feedback_id, event_id);
INSERT INTO {database}.followups_v6 SELECT * FROM {database}.followups
WHERE /* chunk per toYYYYMM(occurred_at) */ 1;
RENAME TABLE {database}.followups TO {database}.followups_v5, {database}.followups_v6 TO {database}.followups;
DROP TABLE {database}.followups_v5;

DROP TABLE IF EXISTS {database}.score_facts_v5;
DROP TABLE IF EXISTS {database}.score_facts_v6;
CREATE TABLE {database}.score_facts_v6
(
    tenant LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    minute DateTime('UTC'),
    event_id String,
    interactions UInt8,
    failures UInt8,
    nps_n UInt8,
    nps_promoters UInt8,
    nps_detractors UInt8,
    csat5_n UInt8,
    csat5_satisfied UInt8,
    csat10_n UInt8,
    csat10_satisfied UInt8,
    ces_n UInt8,
    ces_sum UInt8,
    ces_sum_sq UInt8,
    followup_needed UInt8,
    followup_met UInt8,
    followup_needed_on_minute UInt8,
    followup_met_on_minute UInt8
)
ENGINE = ReplacingMergeTree(followup_met)
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, channel, touchpoint, minute, event_id);
INSERT INTO {database}.score_facts_v6 SELECT * FROM {database}.score_facts
WHERE /* chunk per toYYYYMM(minute) */ 1;
RENAME TABLE {database}.score_facts TO {database}.score_facts_v5, {database}.score_facts_v6 TO {database}.score_facts;
DROP TABLE {database}.score_facts_v5;

DROP TABLE IF EXISTS {database}.score_minutes_v5;
DROP TABLE IF EXISTS {database}.score_minutes_v6;
CREATE TABLE {database}.score_minutes_v6
(
    tenant LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    minute DateTime('UTC'),
    interactions UInt64,
    failures UInt64,
    nps_n UInt64,
    nps_promoters UInt64,
    nps_detractors UInt64,
    csat5_n UInt64,
    csat5_satisfied UInt64,
    csat10_n UInt64,
    csat10_satisfied UInt64,
    ces_n UInt64,
    ces_sum UInt64,
    ces_sum_sq UInt64,
    followup_needed UInt64,
    followup_met UInt64,
    followup_needed_on_minute UInt64,
    followup_met_on_minute UInt64,
    version UInt64,
    computed_at DateTime('UTC')
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, tenant, channel, touchpoint);
INSERT INTO {database}.score_minutes_v6 SELECT * FROM {database}.score_minutes
WHERE /* chunk per toYYYYMM(minute) */ 1;
RENAME TABLE {database}.score_minutes TO {database}.score_minutes_v5, {database}.score_minutes_v6 TO {database}.score_minutes;
DROP TABLE {database}.score_minutes_v5;
