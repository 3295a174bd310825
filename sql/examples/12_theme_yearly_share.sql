-- The long view: each theme's yearly share of the papers the marts count (accepted conference
-- papers and papers with no review outcome, unless mart_builds.decisions says 'all'), readable
-- years only (not thin), with the counts and the 95% interval behind each share.
select
    t.source,
    year(t.period_start) as year,
    t.theme_id,
    t.papers,
    t.denominator,
    round(t.share * 100, 2) as share_pct,
    round(t.ci_low * 100, 2) as ci_low_pct,
    round(t.ci_high * 100, 2) as ci_high_pct,
    t.is_partial,
    s.status
from theme_shares t
left join series_status s on s.kind = 'theme' and s.source = t.source
    and s.period_grain = t.period_grain and s.series_id = t.theme_id
where t.period_grain = 'year' and not t.is_thin
order by t.source, t.theme_id, year;
