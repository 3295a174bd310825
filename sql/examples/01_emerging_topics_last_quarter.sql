-- Emerging and new topics: what started rising in the last complete months, with the papers
-- behind each call. Status rules, windows and minimum support per grain: see
-- sql/marts/series_status.sql, series_growth.sql and docs/trends.md. Every mart holds several
-- grains: filter one (here 'month'; 'quarter' or 'year' read the same topics over longer spans).
select
    s.source,
    s.topic_id,
    s.label,
    s.status,
    s.papers,
    round(s.recent_share * 100, 2) as recent_pct,
    round(s.prior_share * 100, 2) as prior_pct,
    round(s.trend_p, 4) as trend_p
from topic_status s
where s.period_grain = 'month'
  and s.status in ('new', 'emerging', 'growing')
order by s.trend_z desc nulls last;
