-- The embedding model a topic fit was made with (one row, or none for an unknown fit).
select model from topic_runs where topic_run_id = $topic_run_id
