-- NPS, CSAT and CES per UTC day for one tenant and channel ('*': all), with the sample
-- sizes, the day as a DateTime `time`:, the shape of Grafana's time series panels.
SELECT
    toDateTime(day) AS time,
    sum(nps_n) AS n_nps,
    if(n_nps = 0, NULL, 100 * (toInt64(sum(nps_promoters)) - toInt64(sum(nps_detractors))) / n_nps) AS nps,
    sum(csat5_n) + sum(csat10_n) AS n_csat,
    if(n_csat = 0, NULL, 100 * (sum(csat5_satisfied) + sum(csat10_satisfied)) / n_csat) AS csat,
    sum(ces_n) AS n_ces,
    if(n_ces = 0, NULL, sum(ces_sum) / n_ces) AS ces
FROM cx.score_days FINAL
WHERE $__timeFilter(day) AND tenant = '${tenant}' AND ('${channel}' = '*' OR channel = '${channel}')
GROUP BY time
ORDER BY time
