-- Erasure audit (issue 16): one row per `cxpulse forget` that removed a customer.
-- When, by whom (an operator name, or the id of the API key that asked), the rows
-- removed per table (a JSON object: table -> rows), and the customer only as an
-- HMAC-SHA256 of tenant and customer id with the deployment's erasure salt
-- (customer_hash; salt_id is a short SHA-256 prefix of the salt, so one can tell
-- which salt a row was made with). The customer id itself is never stored here:
-- with the salt, "was this customer erased?" is answered by hashing the id again.
-- A plain MergeTree: rows are only ever added.

CREATE TABLE IF NOT EXISTS {database}.erasures
(
    id String,
    erased_at DateTime('UTC'),
    tenant String,
    customer_hash String,
    salt_id String,
    operator String,
    key_id String,
    counts String,
    rows_removed UInt64
)
ENGINE = MergeTree()
ORDER BY (tenant, erased_at, id);
