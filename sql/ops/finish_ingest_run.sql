-- Complete a paged run: the run takes the highest watermark value it saw, the stream's
-- watermark moves forward (never back: an older range re-run leaves it), and the resumption
-- state goes.
update ingest_runs set
    status      = 'complete',
    finished_at = $now,
    watermark   = (select s.watermark from ingest_state s
                   where s.source = $source and s.scope = $scope and s.run_id = $run_id)
where run_id = $run_id;

insert into source_watermarks (source, scope, watermark, run_id, updated_at)
select source, scope, watermark, run_id, $now
from ingest_state
where source = $source and scope = $scope and run_id = $run_id and watermark is not null
on conflict (source, scope) do update set
    run_id     = case when excluded.watermark > source_watermarks.watermark
                      then excluded.run_id else source_watermarks.run_id end,
    watermark  = greatest(source_watermarks.watermark, excluded.watermark),
    updated_at = excluded.updated_at;

delete from ingest_state where source = $source and scope = $scope and run_id = $run_id;
