-- What happened to topics in one report edition since the edition before it: one row per
-- lineage event (born, continued, split, merged, died) with the names of the topics on both
-- sides. $topic_run_id is the edition's fit and $last_update its last update (null: none);
-- $previous_fit and $previous_update the fit and the last update of the edition before (null
-- when there is none).
--   * a refit's events (against the fit before it) count when the previous edition showed
--     another fit, or there is no previous edition;
--   * topics born in updates (from the novelty pool) count when their update came after the
--     previous edition (every update of the fit, when that edition showed another fit) and
--     no later than the edition itself (update ids sort by time).
-- Empty for a first fit with no update. `score`: match score (continued), share of the old
-- topic's papers (split), share of the new topic's papers from the old one (merged).
select l.event, l.stable_id, l.topic_id, coalesce(nt.name, nt.label) as label, nt.size,
       l.previous_topic_id, pt.stable_id as previous_stable_id,
       coalesce(pt.name, pt.label) as previous_label, pt.size as previous_size, l.score,
       l.previous_run_id, l.update_run_id
from topic_lineage l
left join topics nt on nt.topic_run_id = l.topic_run_id and nt.topic_id = l.topic_id
left join topics pt on pt.topic_run_id = l.previous_run_id and pt.topic_id = l.previous_topic_id
where l.topic_run_id = $topic_run_id
  and (
      (l.update_run_id is null and l.previous_run_id is not null
       and $previous_fit::varchar is distinct from $topic_run_id)
      or (l.update_run_id is not null
          and l.update_run_id <= coalesce($last_update::varchar, '')
          and ($previous_fit::varchar is distinct from $topic_run_id
               or l.update_run_id > coalesce($previous_update::varchar, '')))
  )
order by l.event, coalesce(nt.size, pt.size) desc, l.stable_id;
