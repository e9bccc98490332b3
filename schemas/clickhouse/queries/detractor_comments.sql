-- The latest comments of detractors (NPS 0-6) on a channel ('*': all) with their locale
-- and language, newest first.
SELECT occurred_at, channel, touchpoint, score, locale,
       splitByChar('-', toString(locale))[1] AS language, customer_id, comment
FROM cx.feedback FINAL
WHERE $__timeFilter(occurred_at) AND tenant = '${tenant}' AND ('${channel}' = '*' OR channel = '${channel}')
  AND survey = 'nps' AND score <= 6 AND comment != ''
ORDER BY occurred_at DESC
LIMIT 100
