-- After a page's records are stored (same transaction): add the page's counts to its run and
-- move the resumption state past the page, keeping the highest watermark value seen.
update ingest_runs set
    n_received  = n_received + $received,
    n_new       = n_new + $new,
    n_updated   = n_updated + $updated,
    n_unchanged = n_unchanged + $unchanged,
    n_rejected  = n_rejected + $rejected,
    n_skipped   = n_skipped + $skipped,
    n_pages     = n_pages + 1
where run_id = $run_id;

update ingest_state set
    resume_token = $resume_token::varchar,
    watermark    = case
        when $watermark::varchar is null then watermark
        when watermark is null then $watermark::varchar
        else greatest(watermark, $watermark::varchar)
    end,
    pages        = pages + 1,
    updated_at   = $now
where source = $source and scope = $scope and run_id = $run_id;
