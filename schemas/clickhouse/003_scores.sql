-- Scoring state. score_facts holds each counted event's contribution to the
-- statistics (one row per event, deduplicated like the raw tables; a feedback's
-- row is replaced by its followup_met = 1 version once a follow-up closes it).
-- score_minutes holds per scope and minute the sums of those facts, rewritten
-- as absolute values whenever a minute changes; the version is the number of
-- facts plus met follow-ups, which only grows, so the newest sum always wins.

CREATE TABLE IF NOT EXISTS {database}.score_facts
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
ORDER BY (tenant, channel, touchpoint, minute, event_id);

CREATE TABLE IF NOT EXISTS {database}.score_minutes
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
ORDER BY (tenant, channel, touchpoint, minute);
