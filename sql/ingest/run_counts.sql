-- The counts of one ingest run so far (all its pages, across resumes). One row per run_id.
select n_received, n_new, n_updated, n_unchanged, n_rejected, n_pages, n_skipped, watermark
from ingest_runs
where run_id = $run_id;
