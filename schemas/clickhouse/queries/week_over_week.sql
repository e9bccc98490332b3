-- NPS, CSAT and CES of the 7 days up to the range end against the 7 days before, per
-- channel ('*': all), with a two-sample z on each change: NPS from the per-answer
-- variance of +1/0/-1 ((p + d - (p - d)^2) / n), CSAT from pooled proportions, CES from
-- the answers' variance. |z| >= 1.96 is a change at the 5% level (verdict). Whole UTC
-- days from cx.score_days. Channels need answers of each survey in both weeks.
SELECT channel,
       round(100 * (nps_promoters_1 - nps_detractors_1) / nps_n_1, 1) AS nps_this_week,
       round(100 * (nps_promoters_0 - nps_detractors_0) / nps_n_0, 1) AS nps_last_week,
       round(nps_this_week - nps_last_week, 1) AS nps_change,
       round((nps_this_week - nps_last_week) / (100 * sqrt(
           ((nps_promoters_1 + nps_detractors_1) / nps_n_1
            - pow((nps_promoters_1 - nps_detractors_1) / nps_n_1, 2)) / nps_n_1
         + ((nps_promoters_0 + nps_detractors_0) / nps_n_0
            - pow((nps_promoters_0 - nps_detractors_0) / nps_n_0, 2)) / nps_n_0)), 2) AS nps_z,
       nps_n_1 AS nps_n_this, nps_n_0 AS nps_n_last,
       (csat5_satisfied_1 + csat10_satisfied_1) / (csat5_n_1 + csat10_n_1) AS csat_p1,
       (csat5_satisfied_0 + csat10_satisfied_0) / (csat5_n_0 + csat10_n_0) AS csat_p0,
       round(100 * (csat_p1 - csat_p0), 1) AS csat_change,
       (csat5_satisfied_1 + csat10_satisfied_1 + csat5_satisfied_0 + csat10_satisfied_0)
           / (csat5_n_1 + csat10_n_1 + csat5_n_0 + csat10_n_0) AS csat_pooled,
       round((csat_p1 - csat_p0) / sqrt(csat_pooled * (1 - csat_pooled)
           * (1 / (csat5_n_1 + csat10_n_1) + 1 / (csat5_n_0 + csat10_n_0))), 2) AS csat_z,
       round(ces_sum_1 / ces_n_1 - ces_sum_0 / ces_n_0, 2) AS ces_change,
       round((ces_sum_1 / ces_n_1 - ces_sum_0 / ces_n_0) / sqrt(
           (ces_sum_sq_1 / ces_n_1 - pow(ces_sum_1 / ces_n_1, 2)) / ces_n_1
         + (ces_sum_sq_0 / ces_n_0 - pow(ces_sum_0 / ces_n_0, 2)) / ces_n_0), 2) AS ces_z,
       multiIf(abs(nps_z) >= 1.96 OR abs(csat_z) >= 1.96 OR abs(ces_z) >= 1.96,
               'significant (|z| >= 1.96)', 'within noise') AS verdict
FROM (
    SELECT channel,
           sumIf(nps_n, day >= $__toTime - 7 * 86400) AS nps_n_1,
           sumIf(nps_n, day < $__toTime - 7 * 86400) AS nps_n_0,
           toInt64(sumIf(nps_promoters, day >= $__toTime - 7 * 86400)) AS nps_promoters_1,
           toInt64(sumIf(nps_promoters, day < $__toTime - 7 * 86400)) AS nps_promoters_0,
           toInt64(sumIf(nps_detractors, day >= $__toTime - 7 * 86400)) AS nps_detractors_1,
           toInt64(sumIf(nps_detractors, day < $__toTime - 7 * 86400)) AS nps_detractors_0,
           sumIf(csat5_n, day >= $__toTime - 7 * 86400) AS csat5_n_1,
           sumIf(csat5_n, day < $__toTime - 7 * 86400) AS csat5_n_0,
           sumIf(csat5_satisfied, day >= $__toTime - 7 * 86400) AS csat5_satisfied_1,
           sumIf(csat5_satisfied, day < $__toTime - 7 * 86400) AS csat5_satisfied_0,
           sumIf(csat10_n, day >= $__toTime - 7 * 86400) AS csat10_n_1,
           sumIf(csat10_n, day < $__toTime - 7 * 86400) AS csat10_n_0,
           sumIf(csat10_satisfied, day >= $__toTime - 7 * 86400) AS csat10_satisfied_1,
           sumIf(csat10_satisfied, day < $__toTime - 7 * 86400) AS csat10_satisfied_0,
           sumIf(ces_n, day >= $__toTime - 7 * 86400) AS ces_n_1,
           sumIf(ces_n, day < $__toTime - 7 * 86400) AS ces_n_0,
           sumIf(ces_sum, day >= $__toTime - 7 * 86400) AS ces_sum_1,
           sumIf(ces_sum, day < $__toTime - 7 * 86400) AS ces_sum_0,
           sumIf(ces_sum_sq, day >= $__toTime - 7 * 86400) AS ces_sum_sq_1,
           sumIf(ces_sum_sq, day < $__toTime - 7 * 86400) AS ces_sum_sq_0
    FROM cx.score_days FINAL
    WHERE tenant = '${tenant}' AND ('${channel}' = '*' OR channel = '${channel}')
      AND day >= $__toTime - 14 * 86400 AND day < $__toTime
    GROUP BY channel
)
WHERE nps_n_1 > 0 AND nps_n_0 > 0 AND csat5_n_1 + csat10_n_1 > 0 AND csat5_n_0 + csat10_n_0 > 0
  AND ces_n_1 > 0 AND ces_n_0 > 0
ORDER BY channel
