-- The embedding model a topic fit was made with. One row per topic_run_id (none if unknown).
select model
from topic_runs
where topic_run_id = $topic_run_id;
