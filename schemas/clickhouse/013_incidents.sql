-- Incidents (streams/core/incidents.py INCIDENT_COLUMNS): alerts of one tenant with
-- nested or overlapping scopes and overlapping time, grouped by the leader's alert
-- pass. One row per incident version; the version counts the incident's alert
-- changes, so it only grows and replays or a new leader write the same rows. Read
-- with FINAL (or argMax by version). attribution and evidence are JSON documents
-- (core.attribution Attribution.as_dict, the incident's verbatims and cases).
-- 012 is taken by cx.erasures on another branch.

CREATE TABLE IF NOT EXISTS {database}.incidents
(
    tenant LowCardinality(String),
    id String,
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    state LowCardinality(String),
    severity LowCardinality(String),
    primary_channel LowCardinality(String),
    primary_touchpoint LowCardinality(String),
    primary_metric LowCardinality(String),
    primary_at DateTime('UTC'),
    metrics Array(String),
    alerts UInt32,
    opened_at DateTime('UTC'),
    updated_at DateTime('UTC'),
    resolved_at Nullable(DateTime('UTC')),
    version UInt64,
    attribution String,
    evidence String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, id);
