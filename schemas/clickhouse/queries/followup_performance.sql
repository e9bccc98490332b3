-- Close the loop, per channel ('*': all), for cases opened in the range: how many, the share met
-- within the deadline (of those whose deadline has passed), and hours from the
-- feedback to its first contact (contacted or resolved), late contacts included. A case a
-- later revision of its feedback withdrew (it needs no follow-up any more) is left out.
SELECT
    channel,
    count() AS cases,
    countIf(due_at <= now()) AS came_due,
    countIf(due_at <= now() AND isNotNull(met_at)) AS met_in_time,
    if(came_due = 0, NULL, met_in_time / came_due) AS met_share,
    countIf(first_s > 0) AS contacted,
    if(contacted = 0, NULL,
       avgIf((first_s - toUnixTimestamp(opened_at)) / 3600, first_s > 0)) AS avg_hours_to_contact,
    if(contacted = 0, NULL,
       quantileIf(0.5)((first_s - toUnixTimestamp(opened_at)) / 3600, first_s > 0)) AS median_hours_to_contact
FROM
(
    SELECT channel, feedback_id, opened_at, due_at, met_at
    FROM cx.followup_cases FINAL
    WHERE $__timeFilter(opened_at) AND tenant = '${tenant}' AND ('${channel}' = '*' OR channel = '${channel}')
      AND withdrawn = 0
) AS opened
ANY LEFT JOIN
(
    SELECT feedback_id, toUnixTimestamp(min(occurred_at)) AS first_s
    FROM cx.followups FINAL
    WHERE action IN ('contacted', 'resolved') AND tenant = '${tenant}'
      AND occurred_at >= $__fromTime
    GROUP BY feedback_id
) AS contacts USING feedback_id
GROUP BY channel
ORDER BY channel
