-- The latest comments of detractors (NPS 0-6) with their language, newest first.
SELECT occurred_at, channel, touchpoint, score, locale, customer_id, comment
FROM cx.feedback FINAL
WHERE $__timeFilter(occurred_at) AND tenant = '$tenant'
  AND survey = 'nps' AND score <= 6 AND comment != ''
ORDER BY occurred_at DESC
LIMIT 100
