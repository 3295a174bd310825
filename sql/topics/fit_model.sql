-- The embedding model a fit was made with (one row per fit).
select model from topic_runs where topic_run_id = $topic_run_id
