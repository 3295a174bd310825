-- cutoff_shares: one row per (kind, source, series_id, period_start) at one grain ($grain) of
-- what series_growth reads in a backtest's scratch store (topic_shares without the outliers,
-- theme_shares): the share series the status rules are applied to. Cached per cut-off so that
-- other rules can be applied again without a refit (pipeline/backtest/tune.py).
--   series_id  the fit's topic id (as text) or the theme id
--   stable_id  the topic's stable id across the cut-offs' fits (themes: the theme id)
select 'topic' as kind, s.source, s.period_grain, s.period_start, s.topic_id::varchar as series_id,
       coalesce(t.stable_id, s.topic_id::varchar) as stable_id, s.label, s.papers, s.denominator,
       s.is_partial, s.is_thin
from topic_shares s
join topics t on t.topic_run_id = $topic_run_id and t.topic_id = s.topic_id
where s.period_grain = $grain and s.topic_id <> -1
union all
select 'theme', source, period_grain, period_start, theme_id, theme_id, name, papers, denominator,
       is_partial, is_thin
from theme_shares
where period_grain = $grain
order by kind, source, series_id, period_start;
