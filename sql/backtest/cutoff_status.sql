-- cutoff_status: one row per (kind, source, series_id) of series_status at one grain ($grain) in
-- a backtest's scratch store: the status the report would have shown at the cut-off and the
-- period it is read at (the window's last readable period). Topics carry their stable id.
select st.kind, st.source,
       case when st.kind = 'topic' then coalesce(t.stable_id, st.series_id) else st.series_id end
           as series_id,
       st.label, st.status, g.window_end as base_period
from series_status st
join series_growth g using (kind, source, period_grain, series_id)
left join topics t
       on st.kind = 'topic' and t.topic_run_id = $topic_run_id and t.topic_id::varchar = st.series_id
where st.period_grain = $grain
-- two topics of one stable id (a split): the larger first, which the backtest keeps
order by st.kind, st.source, series_id, st.papers desc, st.series_id;
