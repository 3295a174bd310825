-- What changed since the previous fit: one row per lineage event of the current fit (born,
-- continued, split, merged, died), with the names of the topics on both sides. Empty for a first
-- fit. `score`: match score (continued), share of the old topic's papers (split), share of the
-- new topic's papers from the old one (merged).
select l.event, l.stable_id, l.topic_id, coalesce(nt.name, nt.label) as label, nt.size,
       l.previous_topic_id, pt.stable_id as previous_stable_id,
       coalesce(pt.name, pt.label) as previous_label, pt.size as previous_size, l.score,
       l.previous_run_id
from topic_lineage l
left join topics nt on nt.topic_run_id = l.topic_run_id and nt.topic_id = l.topic_id
left join topics pt on pt.topic_run_id = l.previous_run_id and pt.topic_id = l.previous_topic_id
where l.topic_run_id = $topic_run_id and l.previous_run_id is not null
order by l.event, coalesce(nt.size, pt.size) desc, l.stable_id;
