-- Revisions (issue 15): a feedback event may be amended (a comment sent after the
-- score, a rating changed, a finished form after a partial one). Every revision
-- carries the same event_id and a higher `revision`; the highest wins everywhere.
--
-- feedback: `revision`, ReplacingMergeTree(revision), so FINAL and argMax keep the
--   highest revision (the same revision again is a duplicate, as before).
-- score_facts: `version`, ReplacingMergeTree(version). A feedback fact's version is
--   2 * revision + followup_met, a comment fact's 2 * revision, an interaction's 0; a
--   revision that moved the answer to another scope or minute leaves a zero-valued
--   tombstone fact at the old key, versioned 2 * revision + 1. Old rows take
--   version = followup_met, what their engine compared before.
-- comment_insights: `revision` and `version` = (revision << 32) + enriched_at, so the
--   highest revision's insight wins and, within it, the newest enrichment. A revision
--   without a comment writes an insight with an empty comment (a tombstone).
-- followup_cases: `revision` and `withdrawn` (1 when the winning revision needs no
--   follow-up any more, or moved to another tenant); the version carries the revision
--   in its high bits (core.cases.case_version).
-- notifications: `revision`, sorted by (event_id, revision): case_opened once per
--   event id, case_updated / case_withdrawn once per event id and revision.
--
-- feedback_revisions: where each revision of a feedback counts (scope, minute) and
--   whether it has a comment and needs follow-up, one row per event id and revision.
--   The raw table keeps only the highest revision once its parts merge, but a later
--   revision must still find where the older ones counted, to leave tombstones there
--   (queries.scoring); written with the raw rows, before scoring looks it up.
--   Existing feedback is revision 0.
--
-- Each table is rebuilt as 006 does (a new table, a copy with explicit columns, a
-- rename swap, the old one dropped): every step can run again after a crash. The
-- copies run a month at a time and the migrator copies what reached the old table
-- after each swap, so workers may keep running.

DROP TABLE IF EXISTS {database}.feedback_v9;
DROP TABLE IF EXISTS {database}.feedback_v10;
CREATE TABLE {database}.feedback_v10
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
    source_offset UInt64,
    revision UInt32
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY event_id;
INSERT INTO {database}.feedback_v10 (event_id, tenant, channel, touchpoint, occurred_at, occurred_ms, utc_offset_min, customer_id, locale, attributes, survey, score, scale, comment, interaction_id, ingested_at, source_partition, source_offset, revision)
SELECT event_id, tenant, channel, touchpoint, occurred_at, occurred_ms, utc_offset_min, customer_id, locale, attributes, survey, score, scale, comment, interaction_id, ingested_at, source_partition, source_offset, 0 FROM {database}.feedback
WHERE /* chunk per toYYYYMM(occurred_at) */ 1;
RENAME TABLE {database}.feedback TO {database}.feedback_v9, {database}.feedback_v10 TO {database}.feedback;
DROP TABLE {database}.feedback_v9;

DROP TABLE IF EXISTS {database}.score_facts_v9;
DROP TABLE IF EXISTS {database}.score_facts_v10;
CREATE TABLE {database}.score_facts_v10
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
    followup_met_on_minute UInt8,
    comments UInt8,
    sentiment_sum Int32,
    sentiment_sum_sq UInt32,
    comments_negative UInt8,
    theme_delivery UInt8,
    theme_payment UInt8,
    theme_price UInt8,
    theme_product_quality UInt8,
    theme_stock UInt8,
    theme_usability UInt8,
    theme_customer_service UInt8,
    theme_returns UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, channel, touchpoint, minute, event_id);
INSERT INTO {database}.score_facts_v10 (tenant, channel, touchpoint, minute, event_id, interactions, failures, nps_n, nps_promoters, nps_detractors, csat5_n, csat5_satisfied, csat10_n, csat10_satisfied, ces_n, ces_sum, ces_sum_sq, followup_needed, followup_met, followup_needed_on_minute, followup_met_on_minute, comments, sentiment_sum, sentiment_sum_sq, comments_negative, theme_delivery, theme_payment, theme_price, theme_product_quality, theme_stock, theme_usability, theme_customer_service, theme_returns, version)
SELECT tenant, channel, touchpoint, minute, event_id, interactions, failures, nps_n, nps_promoters, nps_detractors, csat5_n, csat5_satisfied, csat10_n, csat10_satisfied, ces_n, ces_sum, ces_sum_sq, followup_needed, followup_met, followup_needed_on_minute, followup_met_on_minute, comments, sentiment_sum, sentiment_sum_sq, comments_negative, theme_delivery, theme_payment, theme_price, theme_product_quality, theme_stock, theme_usability, theme_customer_service, theme_returns, toUInt64(followup_met) FROM {database}.score_facts
WHERE /* chunk per toYYYYMM(minute) */ 1;
RENAME TABLE {database}.score_facts TO {database}.score_facts_v9, {database}.score_facts_v10 TO {database}.score_facts;
DROP TABLE {database}.score_facts_v9;

DROP TABLE IF EXISTS {database}.comment_insights_v9;
DROP TABLE IF EXISTS {database}.comment_insights_v10;
CREATE TABLE {database}.comment_insights_v10
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
    enriched_at DateTime('UTC'),
    revision UInt32,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, event_id);
INSERT INTO {database}.comment_insights_v10 (event_id, tenant, channel, touchpoint, occurred_at, occurred_ms, locale, comment, language, sentiment, label, emotion, themes, model_version, enriched_at, revision, version)
SELECT event_id, tenant, channel, touchpoint, occurred_at, occurred_ms, locale, comment, language, sentiment, label, emotion, themes, model_version, enriched_at, 0, toUInt64(toUInt32(enriched_at)) FROM {database}.comment_insights
WHERE /* chunk per toYYYYMM(occurred_at) */ 1;
RENAME TABLE {database}.comment_insights TO {database}.comment_insights_v9, {database}.comment_insights_v10 TO {database}.comment_insights;
DROP TABLE {database}.comment_insights_v9;

DROP TABLE IF EXISTS {database}.followup_cases_v9;
DROP TABLE IF EXISTS {database}.followup_cases_v10;
CREATE TABLE {database}.followup_cases_v10
(
    tenant LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    feedback_id String,
    customer_id String,
    survey LowCardinality(String),
    score UInt8,
    scale UInt8,
    comment String,
    opened_at DateTime('UTC'),
    opened_ms UInt16,
    due_at DateTime('UTC'),
    met_at Nullable(DateTime('UTC')),
    followup_action LowCardinality(String),
    version UInt64,
    revision UInt32,
    withdrawn UInt8
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, feedback_id);
INSERT INTO {database}.followup_cases_v10 (tenant, channel, touchpoint, feedback_id, customer_id, survey, score, scale, comment, opened_at, opened_ms, due_at, met_at, followup_action, version, revision, withdrawn)
SELECT tenant, channel, touchpoint, feedback_id, customer_id, survey, score, scale, comment, opened_at, opened_ms, due_at, met_at, followup_action, version, 0, 0 FROM {database}.followup_cases
WHERE /* chunk per toYYYYMM(opened_at) */ 1;
RENAME TABLE {database}.followup_cases TO {database}.followup_cases_v9, {database}.followup_cases_v10 TO {database}.followup_cases;
DROP TABLE {database}.followup_cases_v9;

DROP TABLE IF EXISTS {database}.notifications_v9;
DROP TABLE IF EXISTS {database}.notifications_v10;
CREATE TABLE {database}.notifications_v10
(
    event_id String,
    type LowCardinality(String),
    sent_at DateTime('UTC'),
    payload String,
    revision UInt32
)
ENGINE = ReplacingMergeTree()
ORDER BY (event_id, revision);
INSERT INTO {database}.notifications_v10 (event_id, type, sent_at, payload, revision)
SELECT event_id, type, sent_at, payload, 0 FROM {database}.notifications
WHERE /* chunk per toYYYYMM(sent_at) */ 1;
RENAME TABLE {database}.notifications TO {database}.notifications_v9, {database}.notifications_v10 TO {database}.notifications;
DROP TABLE {database}.notifications_v9;

CREATE TABLE IF NOT EXISTS {database}.feedback_revisions
(
    event_id String,
    revision UInt32,
    tenant LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    minute DateTime('UTC'),
    has_comment UInt8,
    needs_followup UInt8
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (event_id, revision);
INSERT INTO {database}.feedback_revisions (event_id, revision, tenant, channel, touchpoint, minute, has_comment, needs_followup)
SELECT event_id, revision, tenant, channel, touchpoint, toStartOfMinute(occurred_at), comment != '',
       (survey = 'nps' AND score <= 6) OR (survey = 'csat' AND score <= if(scale = 10, 4, 2))
       OR (survey = 'ces' AND score <= 3)
FROM {database}.feedback
WHERE /* chunk per toYYYYMM(occurred_at) */ 1;
