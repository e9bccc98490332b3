-- Per channel ('*': all) over the range: comments, mean sentiment, negative share, and the
-- share of comments naming each built-in theme (a comment may name several, so the shares
-- need not add up to 1), from cx.score_days.
SELECT channel,
       sum(comments) AS n_comments,
       round(sum(sentiment_sum) / 1000 / n_comments, 3) AS sentiment,
       round(sum(comments_negative) / n_comments, 3) AS negative_share,
       round(sum(theme_delivery) / n_comments, 3) AS delivery,
       round(sum(theme_payment) / n_comments, 3) AS payment,
       round(sum(theme_price) / n_comments, 3) AS price,
       round(sum(theme_product_quality) / n_comments, 3) AS product_quality,
       round(sum(theme_stock) / n_comments, 3) AS stock,
       round(sum(theme_usability) / n_comments, 3) AS usability,
       round(sum(theme_customer_service) / n_comments, 3) AS customer_service,
       round(sum(theme_returns) / n_comments, 3) AS returns
FROM cx.score_days FINAL
WHERE $__timeFilter(day) AND tenant = '${tenant}' AND ('${channel}' = '*' OR channel = '${channel}')
GROUP BY channel
HAVING n_comments > 0
ORDER BY n_comments DESC
