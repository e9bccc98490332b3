-- Mean comment sentiment (-1..1) and the share of negative comments per channel ('*': all)
-- and bucket of $__interval_s seconds (at least a day: score_days is read), with the
-- comments behind them. Sums of exact thousandths, never an average of averages.
SELECT
    toDateTime(intDiv(toUnixTimestamp(day), greatest($__interval_s, 86400))
               * greatest($__interval_s, 86400)) AS time,
    channel,
    sum(comments) AS n_comments,
    if(n_comments = 0, NULL, sum(sentiment_sum) / 1000 / n_comments) AS sentiment,
    if(n_comments = 0, NULL, sum(comments_negative) / n_comments) AS negative_share
FROM cx.score_days FINAL
WHERE $__timeFilter(day) AND tenant = '${tenant}' AND ('${channel}' = '*' OR channel = '${channel}')
GROUP BY time, channel
ORDER BY time, channel
