-- The latest complete full fit (one row, or none before the first fit).
select topic_run_id from topic_runs order by created_at desc limit 1
