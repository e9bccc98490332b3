-- Feedback answers per interaction, and failed interactions, per channel ('*': all) and bucket of
-- $__interval_s seconds (Grafana's interval, at least a day: score_days is read).
SELECT
    toDateTime(intDiv(toUnixTimestamp(day), greatest($__interval_s, 86400))
               * greatest($__interval_s, 86400)) AS time,
    channel,
    sum(interactions) AS n_interactions,
    if(n_interactions = 0, NULL, sum(nps_n + csat5_n + csat10_n + ces_n) / n_interactions) AS response_rate,
    if(n_interactions = 0, NULL, sum(failures) / n_interactions) AS failure_rate
FROM cx.score_days FINAL
WHERE $__timeFilter(day) AND tenant = '${tenant}' AND ('${channel}' = '*' OR channel = '${channel}')
GROUP BY time, channel
ORDER BY time, channel
