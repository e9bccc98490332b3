-- NPS of the 7 days up to the range end against the 7 days before, per channel, with
-- a two-sample z-test on the difference (variance of NPS/100 = (p + d - (p - d)^2) / n).
-- significant = 1 when |z| > 1.96 (95%). Whole UTC days from cx.score_days.
SELECT
    channel,
    sumIf(nps_n, day >= $__toTime - 7 * 86400) AS this_n,
    sumIf(nps_n, day < $__toTime - 7 * 86400) AS last_n,
    (toInt64(sumIf(nps_promoters, day >= $__toTime - 7 * 86400))
     - toInt64(sumIf(nps_detractors, day >= $__toTime - 7 * 86400))) / greatest(this_n, 1) AS this_net,
    (toInt64(sumIf(nps_promoters, day < $__toTime - 7 * 86400))
     - toInt64(sumIf(nps_detractors, day < $__toTime - 7 * 86400))) / greatest(last_n, 1) AS last_net,
    (sumIf(nps_promoters + nps_detractors, day >= $__toTime - 7 * 86400) / greatest(this_n, 1)
     - pow(this_net, 2)) / greatest(this_n, 1) AS this_var,
    (sumIf(nps_promoters + nps_detractors, day < $__toTime - 7 * 86400) / greatest(last_n, 1)
     - pow(last_net, 2)) / greatest(last_n, 1) AS last_var,
    if(this_n = 0, NULL, 100 * this_net) AS nps_this_week,
    if(last_n = 0, NULL, 100 * last_net) AS nps_last_week,
    if(this_n = 0 OR last_n = 0, NULL, 100 * (this_net - last_net)) AS nps_change,
    if(this_n = 0 OR last_n = 0 OR this_var + last_var <= 0, NULL,
       (this_net - last_net) / sqrt(this_var + last_var)) AS z,
    if(z IS NULL, 0, abs(z) > 1.96) AS significant
FROM cx.score_days FINAL
WHERE day >= $__toTime - 14 * 86400 AND day < $__toTime AND tenant = '$tenant'
GROUP BY channel
ORDER BY channel
