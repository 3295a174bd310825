-- cutoff_series: one row per (kind, source, series_id, period_start) of one grain ($grain) in the
-- point-in-time marts of a backtest's scratch store: a topic (series_id = its stable id, which
-- lineage keeps across the cut-offs' fits; outliers left out) or a theme, its papers,
-- denominator, share, 95% Wilson interval and whether the period is readable (not partial,
-- not thin).
select 'topic' as kind, s.source, coalesce(t.stable_id, s.topic_id::varchar) as series_id,
       s.label, s.period_start, s.papers, s.denominator, s.share, s.ci_low, s.ci_high,
       not s.is_partial and not s.is_thin as readable
from topic_shares s
join topics t on t.topic_run_id = $topic_run_id and t.topic_id = s.topic_id
where s.period_grain = $grain and s.topic_id <> -1
union all
select 'theme', source, theme_id, name, period_start, papers, denominator, share, ci_low, ci_high,
       not is_partial and not is_thin
from theme_shares
where period_grain = $grain
order by kind, source, series_id, period_start;
