-- series_status: one row per (kind, source, period_grain, series_id) of series_growth: a status
-- a reader can act on, by these rules, applied in order (support = papers in the window):
--   insufficient  support below the grain's minimum ($min_support_year, $min_support_quarter,
--                 $min_support_month; defaults in pipeline/trends.py, recorded in mart_builds):
--                 too few papers to call any trend; readers see "too little evidence";
--                 also when fewer than $min_periods (3) readable periods lie in the window
--                 (no trend runs through two points: arXiv 2025 has two complete quarters)
--   new           the earlier half of the window has readable periods but at most 2 papers in
--                 them, the rest are in the later half
--   emerging      significant rise (trend_p < $trend_alpha, trend_z > 0), share at least
--                 $emerging_ratio x the earlier half's, and a recent share at or below the
--                 $emerging_share_quantile quantile of its kind's (0.5: the median): small but rising
--   growing       significant rise (trend_p < $trend_alpha, trend_z > 0)
--   fading        significant fall (trend_p < $trend_alpha, trend_z < 0) to at most
--                 $fading_ratio x the earlier share
--   declining     significant fall (trend_p < $trend_alpha, trend_z < 0)
--   stable        otherwise
-- Defaults of every $rule: MartRules in pipeline/trends.py (alpha 0.05, ratios 1.5 and 0.5,
-- quantile 0.5), recorded in mart_builds; docs/backtest.md says how they were chosen.
-- topic_status is a view of the topics' rows.
create or replace table series_status as
with caps as (
    select kind, source, period_grain,
           quantile_cont(recent_share, $emerging_share_quantile::double) as emerging_share_cap
    from series_growth
    group by all
)
select
    g.kind, g.source, g.period_grain, g.series_id, g.label, g.n_periods, g.papers, g.trend_z,
    g.trend_p,
    g.share_ratio, g.recent_share, g.prior_share,
    case
        when g.papers < case g.period_grain when 'year' then $min_support_year
                                           when 'quarter' then $min_support_quarter
                                           else $min_support_month end
             or g.n_periods < $min_periods then 'insufficient'
        when g.prior_papers is not null and g.prior_papers <= 2 then 'new'
        when g.trend_p < $trend_alpha and g.trend_z > 0 and g.share_ratio >= $emerging_ratio
             and g.recent_share <= m.emerging_share_cap then 'emerging'
        when g.trend_p < $trend_alpha and g.trend_z > 0 then 'growing'
        when g.trend_p < $trend_alpha and g.trend_z < 0 and g.share_ratio <= $fading_ratio
            then 'fading'
        when g.trend_p < $trend_alpha and g.trend_z < 0 then 'declining'
        else 'stable'
    end as status
from series_growth g
join caps m using (kind, source, period_grain)
order by g.kind, g.source, g.period_grain, g.series_id;

create or replace view topic_status as
select source, period_grain, series_id::integer as topic_id, label, papers, trend_z, trend_p,
       share_ratio, recent_share, prior_share, status
from series_status
where kind = 'topic';
