-- Per channel and touchpoint over the range (channel and touchpoint '*': all): scores,
-- sample sizes and failure rate, worst NPS first.
SELECT
    channel,
    touchpoint,
    sum(interactions) AS n_interactions,
    if(n_interactions = 0, NULL, sum(failures) / n_interactions) AS failure_rate,
    sum(nps_n) AS n_nps,
    if(n_nps = 0, NULL, 100 * (toInt64(sum(nps_promoters)) - toInt64(sum(nps_detractors))) / n_nps) AS nps,
    sum(csat5_n) + sum(csat10_n) AS n_csat,
    if(n_csat = 0, NULL, 100 * (sum(csat5_satisfied) + sum(csat10_satisfied)) / n_csat) AS csat,
    sum(ces_n) AS n_ces,
    if(n_ces = 0, NULL, sum(ces_sum) / n_ces) AS ces
FROM cx.score_days FINAL
WHERE $__timeFilter(day) AND tenant = '${tenant}' AND ('${channel}' = '*' OR channel = '${channel}')
  AND ('${touchpoint}' = '*' OR touchpoint = '${touchpoint}')
GROUP BY channel, touchpoint
ORDER BY nps, channel, touchpoint
