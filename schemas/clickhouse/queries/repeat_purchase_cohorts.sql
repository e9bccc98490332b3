-- Customers by their first NPS answer in the range (detractor 0-6, passive 7-8,
-- promoter 9-10) and whether they made a successful purchase within 30 days after it
-- (the rest of each cohort is the 30-day churn). Only answers at least 30 days before
-- the range's end count, so every customer had their 30 days.
SELECT
    multiIf(first_score >= 9, 'promoter', first_score <= 6, 'detractor', 'passive') AS cohort,
    count() AS customers,
    sum(purchased) AS repurchased,
    repurchased / customers AS repurchase_rate,
    1 - repurchase_rate AS churn_rate
FROM
(
    SELECT customer_id, any(score) AS first_score,
           max(purchase_s > answered_s AND purchase_s <= answered_s + 30 * 86400) AS purchased
    FROM
    (
        SELECT customer_id, toUnixTimestamp(min(occurred_at)) AS answered_s,
               argMin(score, occurred_at) AS score
        FROM cx.feedback FINAL
        WHERE $__timeFilter(occurred_at) AND occurred_at <= $__toTime - 30 * 86400
          AND tenant = '${tenant}' AND survey = 'nps'
          AND customer_id != ''
        GROUP BY customer_id
    ) AS answers
    ALL LEFT JOIN
    (
        SELECT customer_id, toUnixTimestamp(occurred_at) AS purchase_s
        FROM cx.interactions FINAL
        WHERE kind = 'purchase' AND outcome = 'success' AND tenant = '${tenant}' AND customer_id != ''
          AND occurred_at >= $__fromTime AND occurred_at < $__toTime + 30 * 86400
    ) AS purchases USING customer_id
    GROUP BY customer_id
)
GROUP BY cohort
ORDER BY cohort
