-- A channel's ('*': all) daily scores with their intervals, straight from the scores_daily
-- view (per touchpoint: pick one, or sum the *_n and sums columns to roll up).
SELECT day, channel, touchpoint, nps, nps_moe, nps_n, csat, csat_low, csat_high, csat_n, ces, ces_n,
       response_rate, failure_rate
FROM cx.scores_daily
WHERE $__timeFilter(day) AND tenant = '${tenant}' AND ('${channel}' = '*' OR channel = '${channel}')
ORDER BY day, channel, touchpoint
