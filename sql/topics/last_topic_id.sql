-- The highest topic number of a fit (null for a fit without topics).
select max(topic_id) from topics where topic_run_id = $topic_run_id
