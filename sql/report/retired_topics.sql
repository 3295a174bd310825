-- One row per (stable topic no longer in the current fit, what it became): the topic's last
-- name, the fit it was last seen in, and the lineage event that ended it in the next fit:
-- 'died' (no new topic matched it; into_* null), 'split' or 'merged' (into_stable_id: a topic
-- of that fit that took at least lineage.MIN_FLOW of its papers). A topic can have several rows.
with seen as (
    select t.stable_id, t.topic_run_id, t.topic_id, coalesce(t.name, t.label) as label,
           r.created_at
    from topics t
    join topic_runs r on r.topic_run_id = t.topic_run_id
    where t.stable_id is not null and t.topic_id <> -1
),
last_seen as (
    select stable_id, arg_max(topic_run_id, created_at) as last_run_id,
           arg_max(topic_id, created_at) as last_topic_id, arg_max(label, created_at) as label,
           max(created_at) as last_seen_at
    from seen
    group by stable_id
),
retired as (
    select * from last_seen
    where stable_id not in (
        select stable_id from topics
        where topic_run_id = $topic_run_id and stable_id is not null
    )
)
select r.stable_id, r.label, r.last_run_id, r.last_seen_at, l.topic_run_id as ended_in_run_id,
       coalesce(l.event, 'died') as event,
       case when l.event in ('split', 'merged') then l.stable_id end as into_stable_id,
       case when l.event in ('split', 'merged') then coalesce(nt.name, nt.label) end as into_label,
       case when l.event in ('split', 'merged') then l.score end as share
from retired r
left join topic_lineage l
       on l.previous_run_id = r.last_run_id and l.previous_topic_id = r.last_topic_id
      and l.event in ('died', 'split', 'merged')
left join topics nt on nt.topic_run_id = l.topic_run_id and nt.topic_id = l.topic_id
order by r.stable_id, event desc, share desc nulls last
