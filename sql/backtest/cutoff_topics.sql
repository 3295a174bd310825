-- cutoff_topics: one row per topic (outliers included) of the fit $topic_run_id in a backtest's
-- scratch store: its stable id, label, terms and size, to compare cut-offs' topics.
select coalesce(stable_id, topic_id::varchar) as series_id, topic_id, label, terms, size
from topics
where topic_run_id = $topic_run_id
order by topic_id;
