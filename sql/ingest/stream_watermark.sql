-- How far a stream (source, scope) has been ingested: the watermark of its last complete run.
-- One row, or none before the stream's first complete run.
select watermark
from source_watermarks
where source = $source and scope = $scope;
