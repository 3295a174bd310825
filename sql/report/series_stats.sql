-- Growth figures and status of every topic and theme per (source, period_grain): one row per
-- (kind, source, period_grain, series_id) of series_growth, with its series_status.
select
    g.kind,
    g.source,
    g.period_grain,
    g.series_id,
    g.n_periods,
    g.papers as window_papers,
    g.window_start,
    g.window_end,
    g.log_share_slope,
    g.slope_low,
    g.slope_high,
    g.trend_p,
    g.recent_share,
    g.prior_share,
    g.share_ratio,
    s.status
from series_growth g
left join series_status s using (kind, source, period_grain, series_id)
order by g.kind, g.source, g.period_grain, g.series_id;
