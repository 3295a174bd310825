-- mart_builds: one row: which fit, as-of date and rules the marts above were built from.
--   decisions        papers counted: 'accepted' (accepted or no review outcome) or 'all'
--   thin_min_papers, thin_fraction
--                    is_thin rule: a period's denominator below max(thin_min_papers,
--                    thin_fraction x the median denominator of the source's periods at its grain)
--   window_month, window_quarter, window_year
--                    growth window of each grain, in periods (series_growth)
--   min_support_month, min_support_quarter, min_support_year
--                    papers a series needs in its window before it gets a trend status
--                    (series_status; below it: 'insufficient')
--   min_periods      readable periods a window needs for a trend status (else 'insufficient')
--   trend_alpha, emerging_ratio, emerging_share_quantile, fading_ratio
--                    the status thresholds of series_status
create or replace table mart_builds as
select
    $topic_run_id::varchar as topic_run_id,
    $as_of::date as as_of,
    $built_at::timestamp as built_at,
    $decisions::varchar as decisions,
    $thin_min_papers::integer as thin_min_papers,
    $thin_fraction::double as thin_fraction,
    $window_month::integer as window_month,
    $window_quarter::integer as window_quarter,
    $window_year::integer as window_year,
    $min_support_month::integer as min_support_month,
    $min_support_quarter::integer as min_support_quarter,
    $min_support_year::integer as min_support_year,
    $min_periods::integer as min_periods,
    $trend_alpha::double as trend_alpha,
    $emerging_ratio::double as emerging_ratio,
    $emerging_share_quantile::double as emerging_share_quantile,
    $fading_ratio::double as fading_ratio;
