-- The unfinished paged run of a stream (source, scope), if any: its run id, the parameters a
-- rerun must match to resume it, and the resume token after its last stored page.
-- One row, or none when the stream has no unfinished run.
select run_id, params, resume_token
from ingest_state
where source = $source and scope = $scope;
