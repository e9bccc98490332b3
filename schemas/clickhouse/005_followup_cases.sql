-- Close the loop. followup_cases holds one case per feedback that needs
-- follow-up (NPS <= 6, CSAT <= 2 of 5 or <= 4 of 10, CES <= 3), rewritten
-- whenever the feedback or a contacted/resolved follow-up of it is stored.
-- opened_at is the feedback's time (opened_ms its milliseconds, which due_at
-- shares: the deadline is whole hours); met_at is the first closing follow-up
-- if it came no later than due_at (NULL while unmet), followup_action its
-- action. The state is read, not stored: met when met_at is set, else overdue
-- once now > due_at, else open. version is 0 while unmet and grows the earlier
-- the case was met, so under FINAL (or argMax by version) the newest truth wins
-- whatever the arrival order; a case's columns other than met_at,
-- followup_action and version come from the feedback and never change.
--
-- notifications records each case_opened message sent to cx.notifications
-- (one row per feedback event id, payload = the JSON sent), written right
-- after the publish: a replay or a duplicate finds it and sends nothing.

CREATE TABLE IF NOT EXISTS {database}.followup_cases
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
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, feedback_id);

CREATE TABLE IF NOT EXISTS {database}.notifications
(
    event_id String,
    type LowCardinality(String),
    sent_at DateTime('UTC'),
    payload String
)
ENGINE = ReplacingMergeTree()
ORDER BY event_id;
