-- series_growth: one row per (kind, source, period_grain, series_id), where a series is a topic
-- of the current fit (kind 'topic', outliers excluded) or a theme (kind 'theme'), read at every
-- grain its source has (see corpus_periods).
-- Window: the last W periods of the grain, counted in calendar periods back from the source's
-- last readable period (W = $window_year years, $window_quarter quarters or $window_month months;
-- defaults 10 / 8 / 6, pipeline/trends.py). Years are few and large, months many and small, so
-- a yearly window spans a decade and a monthly one half a year. Only readable periods enter:
-- partial (is_partial) and thin (is_thin) periods are left out, also inside the window, and the
-- period index t is the calendar position (year, quarter or month number), so a skipped period
-- leaves a gap rather than compressing time.
--   window_periods         W, the window's length in periods of the grain
--   n_periods              readable periods in the window
--   papers                 papers behind the figures (sum over the window)
--   log_share_slope        least-squares slope of ln((papers + 0.5) / (denominator + 1)) per
--                          period (smoothed so zero counts stay finite); slope_low / slope_high:
--                          its 95% interval (t distribution, n - 2 degrees of freedom)
--   trend_z, trend_p       Cochran-Armitage test for a linear trend in the share across the
--                          window's periods (two-sided p-value)
--   recent_share, prior_share  pooled share of the last half of the window (the last W // 2
--                          calendar periods) and of the half before
--   share_ratio            (recent + 0.5 papers) / (prior + 0.5 papers), each over its denominator
-- topic_growth and theme_growth are views of this table, one per kind.
create or replace table series_growth as
with series as (
    select 'topic' as kind, source, period_grain, period_start, topic_id::varchar as series_id,
           label, papers, denominator, is_partial, is_thin
    from topic_shares
    where topic_id <> -1
    union all
    select 'theme', source, period_grain, period_start, theme_id, name, papers, denominator,
           is_partial, is_thin
    from theme_shares
),
complete as (
    select *,
        case period_grain
            when 'year' then year(period_start)
            when 'quarter' then year(period_start) * 4 + quarter(period_start) - 1
            else year(period_start) * 12 + month(period_start) - 1
        end as t,
        case period_grain
            when 'year' then $window_year
            when 'quarter' then $window_quarter
            else $window_month
        end as win
    from series
    where not is_partial and not is_thin
),
windowed as (
    select * from (
        select *, max(t) over (partition by kind, source, period_grain) as t_max from complete
    )
    where t > t_max - win
),
weighted as (
    select *,
        sum(denominator * t) over w / sum(denominator) over w as t_bar,
        sum(papers) over w / sum(denominator) over w as p_bar
    from windowed
    window w as (partition by kind, source, period_grain, series_id)
),
agg as (
    select
        kind, source, period_grain, series_id,
        any_value(label) as label,
        any_value(win) as win,
        count(*)::integer as n_periods,
        sum(papers)::integer as papers,
        min(period_start) as window_start,
        max(period_start) as window_end,
        regr_slope(ln((papers + 0.5) / (denominator + 1.0)), t) as log_share_slope,
        regr_sxx(ln((papers + 0.5) / (denominator + 1.0)), t) as sxx,
        regr_syy(ln((papers + 0.5) / (denominator + 1.0)), t) as syy,
        regr_sxy(ln((papers + 0.5) / (denominator + 1.0)), t) as sxy,
        sum(papers * (t - t_bar)) as ca_t,
        any_value(p_bar) * (1 - any_value(p_bar)) * sum(denominator * (t - t_bar) ^ 2) as ca_var,
        sum(papers) filter (where t > t_max - win // 2) as recent_papers,
        sum(denominator) filter (where t > t_max - win // 2) as recent_denominator,
        sum(papers) filter (where t <= t_max - win // 2) as prior_papers,
        sum(denominator) filter (where t <= t_max - win // 2) as prior_denominator
    from weighted
    group by all
),
stats as (
    select *,
        case when n_periods > 2 and sxx > 0
             then sqrt(greatest(syy - sxy * sxy / sxx, 0) / (n_periods - 2) / sxx) end as slope_se,
        case n_periods - 2 when 1 then 12.706 when 2 then 4.303 when 3 then 3.182
             when 4 then 2.776 when 5 then 2.571 when 6 then 2.447 when 7 then 2.365
             when 8 then 2.306 when 9 then 2.262 when 10 then 2.228 else 2.0 end as t_crit,
        case when ca_var > 0 then ca_t / sqrt(ca_var) end as trend_z
    from agg
)
select
    kind, source, period_grain, series_id, label, win::integer as window_periods, n_periods,
    papers, window_start, window_end,
    log_share_slope,
    log_share_slope - t_crit * slope_se as slope_low,
    log_share_slope + t_crit * slope_se as slope_high,
    trend_z,
    2 * (1 - norm_cdf(abs(trend_z))) as trend_p,
    recent_papers::integer as recent_papers,
    prior_papers::integer as prior_papers,
    recent_papers / recent_denominator as recent_share,
    prior_papers / prior_denominator as prior_share,
    ((recent_papers + 0.5) / recent_denominator) / ((prior_papers + 0.5) / prior_denominator)
        as share_ratio
from stats
order by kind, source, period_grain, series_id;

create or replace view topic_growth as
select source, period_grain, series_id::integer as topic_id, label, window_periods, n_periods,
       papers,
       window_start, window_end, log_share_slope, slope_low, slope_high, trend_z, trend_p,
       recent_papers, prior_papers, recent_share, prior_share, share_ratio
from series_growth
where kind = 'topic';

create or replace view theme_growth as
select source, period_grain, series_id as theme_id, label as name, window_periods, n_periods,
       papers,
       window_start, window_end, log_share_slope, slope_low, slope_high, trend_z, trend_p,
       recent_papers, prior_papers, recent_share, prior_share, share_ratio
from series_growth
where kind = 'theme';
