-- One row per theme: its description, seeds and member papers. Growth and status per source and
-- grain come from series_stats.
select
    t.theme_id,
    t.name,
    t.description,
    t.seeds,
    (select count(*) from paper_themes m where m.theme_id = t.theme_id and m.is_member) as members
from themes t
order by t.theme_id;
