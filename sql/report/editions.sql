-- The latest report editions (one row per analyze build, newest first), up to $limit:
-- what each showed (fit, last update of the fit, as-of date) and when it was recorded.
select edition, topic_run_id, last_update_run_id, as_of, built_at, decisions, recorded_at
from report_editions
order by edition desc
limit $limit;
