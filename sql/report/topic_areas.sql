-- The areas of the current fit, largest first: one row per area with its name and topics.
select area_id, name, n_topics
from topic_areas
where topic_run_id = $topic_run_id
order by n_topics desc, area_id;
