-- Every rejected message, with the original bytes exactly as received.
-- One row per source message (topic, partition, offset): a replay after a
-- crash rewrites the same key, so the table stays exact under FINAL.

CREATE TABLE IF NOT EXISTS {database}.deadletters
(
    received_at DateTime('UTC'),
    reason LowCardinality(String),
    message String,
    topic LowCardinality(String),
    partition UInt32,
    offset UInt64,
    payload String
)
ENGINE = ReplacingMergeTree()
ORDER BY (topic, partition, offset);
