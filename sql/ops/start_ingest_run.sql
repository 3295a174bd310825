-- Open a paged ingest run: its ingest_runs row (status running, zero counts) and its resumption
-- state at the start of the stream. A stale state of the same (source, scope), left by a run
-- with other parameters, is replaced: that run is marked failed first (ops/abandon_ingest_run).
insert into ingest_runs (
    run_id, source, params, started_at, status, n_received, n_new, n_updated, n_unchanged,
    n_rejected, n_pages, n_skipped, n_resumes
)
values ($run_id, $source, $params, $now, 'running', 0, 0, 0, 0, 0, 0, 0, 0);

insert into ingest_state (source, scope, run_id, params, resume_token, watermark, pages, updated_at)
values ($source, $scope, $run_id, $params, null, null, 0, $now)
on conflict (source, scope) do update set
    run_id       = excluded.run_id,
    params       = excluded.params,
    resume_token = null,
    watermark    = null,
    pages        = 0,
    updated_at   = excluded.updated_at;
