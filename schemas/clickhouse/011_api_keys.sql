-- Per-tenant API keys (streams/core/keys.py): one row per key id, never the key
-- itself, only the SHA-256 of its secret. A revocation writes the key again with
-- revoked_at set and version 1, so under FINAL (or argMax by version) a revoked key
-- stays revoked whatever the order the writes land in. Collectors and workers
-- read the whole table every few seconds (a few rows per tenant).

CREATE TABLE IF NOT EXISTS {database}.api_keys
(
    id String,
    tenant String,
    scope LowCardinality(String),
    name String,
    created_at DateTime('UTC'),
    revoked_at Nullable(DateTime('UTC')),
    key_hash String,
    version UInt8
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;
