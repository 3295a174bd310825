-- A paged run stopped by an error: failed for now; its resumption state stays, so running
-- the same ingest again resumes after the last stored page.
update ingest_runs set status = 'failed', finished_at = $now
where run_id = $run_id and status = 'running';
