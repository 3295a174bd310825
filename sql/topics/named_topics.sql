-- The topics of a fit that carry a stable id (outliers excluded): one row per topic, with its
-- name (null for fits made before names) so a continuing topic can keep it.
select topic_id, stable_id, centroid, name
from topics
where topic_run_id = $topic_run_id and topic_id <> -1 and stable_id is not null
