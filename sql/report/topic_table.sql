-- One row per topic of the current fit (outliers included): label (its name, or the three
-- c-TF-IDF words for fits made before names), terms, size, coherence and area.
-- Growth and status per source and grain come from series_stats.
select t.topic_id, t.stable_id, coalesce(t.name, t.label) as label, t.label as terms_label,
       t.terms, t.size, t.npmi, t.area_id
from topics t
where t.topic_run_id = $topic_run_id
order by t.topic_id = -1, t.size desc, t.topic_id;
