-- The analytics contract: scores per scope and UTC day, computed here with the
-- formulas of DESIGN.md ("Score definitions", streams/core/scores.py), so
-- analysts and Grafana never re-derive them. A score without data is NULL;
-- n's and the sums stay next to it so a reader can judge a small sample and
-- roll days or scopes up exactly (sum the sums, never average the scores).
-- CSAT carries its 95% Wilson interval, NPS its 95% margin of error.
-- followup_met_share is the share of the day's answers needing follow-up that
-- were met within the deadline: final once the deadline has passed.
-- Plain expressions only: ClickHouse 18.16 lacks newer helpers.

CREATE VIEW IF NOT EXISTS {database}.scores_daily AS
SELECT
    tenant, channel, touchpoint, day,
    if(channel IN ('voice', 'store'), 'traditional', 'digital') AS channel_group,
    nps_n,
    if(nps_n = 0, NULL, 100 * (toInt64(nps_promoters) - toInt64(nps_detractors)) / nps_n) AS nps,
    if(nps_n = 0, NULL, 1.96 * 100 * sqrt(greatest(0,
        (nps_promoters + nps_detractors) / nps_n
        - pow((toInt64(nps_promoters) - toInt64(nps_detractors)) / nps_n, 2)) / nps_n)) AS nps_moe,
    csat5_n + csat10_n AS csat_n,
    if(csat_n = 0, NULL, 100 * (csat5_satisfied + csat10_satisfied) / csat_n) AS csat,
    if(csat_n = 0, NULL, 100 * greatest(0,
        ((csat5_satisfied + csat10_satisfied) / csat_n + 3.8416 / (2 * csat_n)
         - 1.96 * sqrt((csat5_satisfied + csat10_satisfied) / csat_n
                       * (1 - (csat5_satisfied + csat10_satisfied) / csat_n) / csat_n
                       + 3.8416 / (4 * csat_n * csat_n)))
        / (1 + 3.8416 / csat_n))) AS csat_low,
    if(csat_n = 0, NULL, 100 * least(1,
        ((csat5_satisfied + csat10_satisfied) / csat_n + 3.8416 / (2 * csat_n)
         + 1.96 * sqrt((csat5_satisfied + csat10_satisfied) / csat_n
                       * (1 - (csat5_satisfied + csat10_satisfied) / csat_n) / csat_n
                       + 3.8416 / (4 * csat_n * csat_n)))
        / (1 + 3.8416 / csat_n))) AS csat_high,
    ces_n,
    if(ces_n = 0, NULL, ces_sum / ces_n) AS ces,
    interactions,
    nps_n + csat5_n + csat10_n + ces_n AS feedback,
    if(interactions = 0, NULL, feedback / interactions) AS response_rate,
    if(interactions = 0, NULL, failures / interactions) AS failure_rate,
    followup_needed,
    followup_met,
    if(followup_needed = 0, NULL, followup_met / followup_needed) AS followup_met_share,
    nps_promoters, nps_detractors, csat5_satisfied + csat10_satisfied AS csat_satisfied,
    ces_sum, ces_sum_sq, failures
FROM {database}.score_days FINAL;
