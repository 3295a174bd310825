-- rederived_status: one row per (kind, source, series_id) of series_status at one grain ($grain)
-- in a backtest's tuning store (load_shares, then the marts series_growth and series_status
-- under candidate rules): the same columns as cutoff_status, topics under their stable id.
select st.kind, st.source,
       case when st.kind = 'topic' then coalesce(m.stable_id, st.series_id) else st.series_id end
           as series_id,
       st.label, st.status, g.window_end as base_period
from series_status st
join series_growth g using (kind, source, period_grain, series_id)
left join stable_ids m on st.kind = 'topic' and m.series_id = st.series_id
where st.period_grain = $grain
-- two topics of one stable id (a split): the larger first, which the backtest keeps
order by st.kind, st.source, series_id, st.papers desc, st.series_id;
