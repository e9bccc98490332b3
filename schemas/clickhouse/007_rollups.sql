-- Hourly and daily rollups of score_minutes: the same sufficient statistics,
-- summed per scope and UTC hour or day, so a long window reads a few rows per
-- scope and day instead of every minute. Kept exact the way the minutes are:
-- the worker, right after it rewrites minutes, recomputes the hours and days
-- they fall in from score_minutes FINAL (queries/scoring.rewrite_rollups) and
-- writes them as absolute values. version is the sum of the minutes' versions,
-- which only grow, so the newest sum wins. Summing engines would not do: a
-- rewritten minute would be added twice. `cxpulse verify` checks both against
-- the minutes. Sorted by time first, like the minutes: reads are time ranges.
-- The buckets are DateTime (not Date) so Grafana's time filters and
-- ClickHouse 18.16 compare them with DateTime bounds.

CREATE TABLE IF NOT EXISTS {database}.score_hours
(
    tenant LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    hour DateTime('UTC'),
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
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, tenant, channel, touchpoint);

CREATE TABLE IF NOT EXISTS {database}.score_days
(
    tenant LowCardinality(String),
    channel LowCardinality(String),
    touchpoint LowCardinality(String),
    day DateTime('UTC'),
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
PARTITION BY toYear(day)
ORDER BY (day, tenant, channel, touchpoint);

-- Carry the existing minutes over (on a fresh database these select nothing), a
-- day or a month of minutes at a time, so memory stays bounded whatever the history.
INSERT INTO {database}.score_hours
SELECT tenant, channel, touchpoint, toDateTime(intDiv(toUnixTimestamp(minute), 3600) * 3600) AS bucket,
    sum(interactions), sum(failures), sum(nps_n), sum(nps_promoters), sum(nps_detractors), sum(csat5_n), sum(csat5_satisfied), sum(csat10_n), sum(csat10_satisfied), sum(ces_n), sum(ces_sum), sum(ces_sum_sq), sum(followup_needed), sum(followup_met), sum(followup_needed_on_minute), sum(followup_met_on_minute),
    sum(version), now()
FROM {database}.score_minutes FINAL
WHERE /* chunk per toYYYYMMDD(minute) */ 1
GROUP BY tenant, channel, touchpoint, bucket;

INSERT INTO {database}.score_days
SELECT tenant, channel, touchpoint, toDateTime(intDiv(toUnixTimestamp(minute), 86400) * 86400) AS bucket,
    sum(interactions), sum(failures), sum(nps_n), sum(nps_promoters), sum(nps_detractors), sum(csat5_n), sum(csat5_satisfied), sum(csat10_n), sum(csat10_satisfied), sum(ces_n), sum(ces_sum), sum(ces_sum_sq), sum(followup_needed), sum(followup_met), sum(followup_needed_on_minute), sum(followup_met_on_minute),
    sum(version), now()
FROM {database}.score_minutes FINAL
WHERE /* chunk per toYYYYMM(minute) */ 1
GROUP BY tenant, channel, touchpoint, bucket;
