-- What happened to each topic of the current fit since the previous fit (topic_lineage rows).
select l.topic_id, l.event, l.stable_id, l.previous_topic_id, l.score, l.previous_run_id,
       coalesce(pt.name, pt.label) as previous_label, pt.stable_id as previous_stable_id
from topic_lineage l
left join topics pt on pt.topic_run_id = l.previous_run_id and pt.topic_id = l.previous_topic_id
where l.topic_run_id = $topic_run_id and l.topic_id is not null
order by l.topic_id, l.event, l.previous_run_id nulls first, l.previous_topic_id nulls first;
