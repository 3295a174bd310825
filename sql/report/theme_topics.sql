-- Which topics feed each theme: member papers of the theme per topic of the current fit.
-- Grain: one row per (theme, topic); at most 8 per theme, most papers first, then by topic id.
select m.theme_id, pt.topic_id, coalesce(t.name, t.label) as label, count(*) as papers
from paper_themes m
join paper_topics pt on pt.paper_id = m.paper_id and pt.topic_run_id = $topic_run_id
join topics t on t.topic_run_id = pt.topic_run_id and t.topic_id = pt.topic_id
where m.is_member and pt.topic_id <> -1
group by m.theme_id, pt.topic_id, coalesce(t.name, t.label)
qualify row_number() over (partition by m.theme_id order by count(*) desc, pt.topic_id) <= 8
order by m.theme_id, papers desc, pt.topic_id;  -- topic_id: ties in the same order every run
