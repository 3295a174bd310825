-- The sampled papers of the topic map: 2-D position, topic and title (one row per paper).
select m.paper_id, m.x, m.y, pt.topic_id, coalesce(t.name, t.label) as label, p.title
from paper_map m
join paper_topics pt on pt.paper_id = m.paper_id and pt.topic_run_id = m.topic_run_id
join topics t on t.topic_run_id = m.topic_run_id and t.topic_id = pt.topic_id
join papers p on p.paper_id = m.paper_id
where m.topic_run_id = $topic_run_id
order by m.paper_id;
