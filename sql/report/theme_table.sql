-- One row per theme: its description, members, and growth and status on the main source.
with main_source as (
    select source from theme_shares group by source order by sum(denominator) desc limit 1
)
select
    t.theme_id,
    t.name,
    t.description,
    t.seeds,
    (select count(*) from paper_themes m where m.theme_id = t.theme_id and m.is_member) as members,
    g.papers as window_papers,
    g.log_share_slope,
    g.slope_low,
    g.slope_high,
    g.trend_p,
    g.recent_share,
    g.prior_share,
    s.status
from themes t
left join theme_growth g on g.theme_id = t.theme_id and g.source = (select source from main_source)
left join series_status s on s.kind = 'theme' and s.series_id = t.theme_id and s.source = g.source
order by t.theme_id;
