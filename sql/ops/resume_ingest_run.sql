-- A paged run picked up again after a crash or an error: running again, one more resume.
update ingest_runs set status = 'running', finished_at = null, n_resumes = n_resumes + 1
where run_id = $run_id;
