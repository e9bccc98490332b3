-- The latest comments the model reads as negative on a channel ('*': all), with what it read
-- in them: language, sentiment, emotion and themes. Personal data was masked before storage.
SELECT occurred_at, channel, touchpoint, language, sentiment, emotion,
       arrayStringConcat(themes, ', ') AS themes, comment
FROM cx.comment_insights FINAL
WHERE $__timeFilter(occurred_at) AND tenant = '${tenant}' AND ('${channel}' = '*' OR channel = '${channel}')
  AND label = 'negative'
ORDER BY occurred_at DESC
LIMIT 100
