-- A paged run that will not be resumed (a new run of the same stream asks for other
-- parameters): mark it failed. Its committed pages stay, as every page is a complete upsert.
update ingest_runs set status = 'failed', finished_at = $now
where run_id = $run_id and status <> 'complete';
