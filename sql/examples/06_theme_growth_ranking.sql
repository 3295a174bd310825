-- Every theme ranked by its growth over the last complete months, with the slope's 95% interval
-- (per period, on the log-share scale: exp(slope) - 1 is the relative change per period).
-- Change the grain to 'year' for the long view (a 10-year window; see mart_builds).
select
    g.source,
    g.theme_id,
    g.name,
    s.status,
    g.papers,
    round(exp(g.log_share_slope) - 1, 3) as change_per_period,
    round(exp(g.slope_low) - 1, 3) as change_low,
    round(exp(g.slope_high) - 1, 3) as change_high
from theme_growth g
join series_status s on s.kind = 'theme' and s.series_id = g.theme_id and s.source = g.source
    and s.period_grain = g.period_grain
where g.period_grain = 'month'
order by g.source, g.log_share_slope desc;
