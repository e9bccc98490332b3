-- Alert state changes (streams/core/alerts.py ALERT_COLUMNS): one row per change,
-- firing or resolved, at the evaluation's event time. The open alerts are the
-- latest change per (tenant, channel, touchpoint, metric); a new leader rebuilds
-- them from here. Two leaders during a rebalance writing the same change give
-- the same key, so the engine keeps one.

CREATE TABLE IF NOT EXISTS {database}.alerts
(
    tenant LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    metric LowCardinality(String),
    state LowCardinality(String),
    at DateTime('UTC'),
    `window` String,
    value Nullable(Float64),
    baseline Nullable(Float64),
    n UInt64,
    reason String,
    severity LowCardinality(String),
    p_value Nullable(Float64),
    baseline_window String,
    windows String
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, channel, touchpoint, metric, at, state, severity);
