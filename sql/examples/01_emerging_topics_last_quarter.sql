-- Emerging and new topics: what started rising in the last complete periods, with the papers
-- behind each call. Status rules: see sql/marts/series_status.sql.
select
    s.topic_id,
    s.label,
    s.status,
    s.papers,
    round(s.recent_share * 100, 2) as recent_pct,
    round(s.prior_share * 100, 2) as prior_pct,
    round(s.trend_p, 4) as trend_p
from topic_status s
where s.status in ('new', 'emerging', 'growing')
order by s.trend_z desc nulls last;
