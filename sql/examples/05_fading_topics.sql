-- Topics losing share over the last complete months: significant falls first, with how much
-- share they gave up (use period_grain 'year' for yearly sources such as conference papers).
select
    source,
    topic_id,
    label,
    papers,
    round(recent_share * 100, 2) as recent_pct,
    round(prior_share * 100, 2) as prior_pct,
    round(share_ratio, 2) as ratio,
    round(trend_p, 4) as trend_p
from topic_growth
where period_grain = 'month' and papers >= 30 and log_share_slope < 0
order by trend_z asc
limit 10;
