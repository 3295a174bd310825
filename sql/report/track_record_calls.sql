-- track_record_calls: one row per directional call of our statuses (new, emerging, growing,
-- declining, fading) in the latest backtest run of each grain, latest cut-offs first, at most
-- $limit rows: the past calls the report lists with what followed.
select l.period_grain, c.cutoff, c.kind, c.source, c.series_id, c.label, c.status, c.base_period,
       c.base_share, c.outcome_1, c.outcome_2, c.outcome_3, c.change_1, c.change_2, c.change_3,
       c.split
from backtest_calls c
join latest_backtest_runs l using (backtest_run_id)
where c.method = 'status' and c.status in ('new', 'emerging', 'growing', 'declining', 'fading')
order by l.period_grain desc, c.cutoff desc, c.kind, c.status, c.series_id
limit $limit;
