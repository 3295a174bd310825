-- The parameters stored with a fit (JSON text: TopicParams, assign_threshold, ...).
select params from topic_runs where topic_run_id = $topic_run_id
