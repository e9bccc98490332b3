-- Digital (web, mobile_app, email, chat, messaging, social) vs traditional (voice, store):
-- each group's share of interactions and of feedback answers, and its NPS.
SELECT
    if(channel IN ('voice', 'store'), 'traditional', 'digital') AS channel_group,
    sum(interactions) AS group_interactions,
    sum(nps_n + csat5_n + csat10_n + ces_n) AS group_feedback,
    group_interactions / (SELECT greatest(1, sum(interactions)) FROM cx.score_days FINAL
                          WHERE $__timeFilter(day) AND tenant = '${tenant}') AS interaction_share,
    group_feedback / (SELECT greatest(1, sum(nps_n + csat5_n + csat10_n + ces_n))
                      FROM cx.score_days FINAL
                      WHERE $__timeFilter(day) AND tenant = '${tenant}') AS feedback_share,
    sum(nps_n) AS n_nps,
    if(n_nps = 0, NULL, 100 * (toInt64(sum(nps_promoters)) - toInt64(sum(nps_detractors))) / n_nps) AS nps
FROM cx.score_days FINAL
WHERE $__timeFilter(day) AND tenant = '${tenant}'
GROUP BY channel_group
ORDER BY channel_group
