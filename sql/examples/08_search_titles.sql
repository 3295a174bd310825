-- Find papers by words in the title and see their topic and themes.
select
    p.title,
    p.published,
    t.label as topic,
    list(m.theme_id order by m.theme_id) filter (where m.is_member) as themes
from papers p
left join paper_topics pt on pt.paper_id = p.paper_id
    and pt.topic_run_id = (select topic_run_id from mart_builds)
left join topics t on t.topic_run_id = pt.topic_run_id and t.topic_id = pt.topic_id
left join paper_themes m on m.paper_id = p.paper_id
where p.title ilike '%reinforcement%'
group by all
order by p.published desc
limit 20;
