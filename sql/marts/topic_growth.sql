-- topic_growth: one row per (source, period_grain, topic_id) of the current fit (outliers excluded).
-- Over the last $window complete periods of the source (partial periods are left out):
-- log_share_slope = least-squares slope of ln((papers + 0.5) / (denominator + 1)) per period
-- (smoothed so that zero counts stay finite); recent_share / prior_share = pooled share of the
-- last half of the window and of the half before it; share_ratio = recent / prior (prior
-- smoothed by half a paper). papers: how many papers stand behind the figures.
create or replace table topic_growth as
with complete as (
    select *,
        dense_rank() over (partition by source, period_grain order by period_start) as t
    from topic_shares
    where not is_partial and topic_id <> -1
),
latest as (
    select source, period_grain, max(t) as t_max from complete group by all
),
windowed as (
    select c.*, l.t_max
    from complete c
    join latest l using (source, period_grain)
    where c.t > l.t_max - $window
),
halves as (
    select
        source, period_grain, topic_id,
        any_value(label) as label,
        count(*)::integer as n_periods,
        sum(papers)::integer as papers,
        min(period_start) as window_start,
        max(period_start) as window_end,
        regr_slope(ln((papers + 0.5) / (denominator + 1.0)), t) as log_share_slope,
        sum(papers) filter (where t > t_max - $window // 2) as recent_papers,
        sum(denominator) filter (where t > t_max - $window // 2) as recent_denominator,
        sum(papers) filter (where t <= t_max - $window // 2) as prior_papers,
        sum(denominator) filter (where t <= t_max - $window // 2) as prior_denominator
    from windowed
    group by all
)
select
    source, period_grain, topic_id, label, n_periods, papers, window_start, window_end,
    log_share_slope,
    recent_papers / recent_denominator as recent_share,
    prior_papers / prior_denominator as prior_share,
    ((recent_papers + 0.5) / recent_denominator)
        / ((prior_papers + 0.5) / prior_denominator) as share_ratio
from halves
order by source, topic_id;
