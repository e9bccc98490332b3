-- NPS, CSAT and CES per UTC day for one tenant, with the sample sizes.
SELECT
    day,
    sum(nps_n) AS n_nps,
    if(n_nps = 0, NULL, 100 * (toInt64(sum(nps_promoters)) - toInt64(sum(nps_detractors))) / n_nps) AS nps,
    sum(csat5_n) + sum(csat10_n) AS n_csat,
    if(n_csat = 0, NULL, 100 * (sum(csat5_satisfied) + sum(csat10_satisfied)) / n_csat) AS csat,
    sum(ces_n) AS n_ces,
    if(n_ces = 0, NULL, sum(ces_sum) / n_ces) AS ces
FROM cx.score_days FINAL
WHERE $__timeFilter(day) AND tenant = '$tenant'
GROUP BY day
ORDER BY day
