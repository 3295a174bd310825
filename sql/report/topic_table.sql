-- One row per topic of the current fit (outliers included): label, terms, size and coherence.
-- Growth and status per source and grain come from series_stats.
select t.topic_id, t.stable_id, t.label, t.terms, t.size, t.npmi
from topics t
where t.topic_run_id = $topic_run_id
order by t.topic_id = -1, t.size desc, t.topic_id;
