-- track_record_scores: one row per (backtest_run_id, split, method, status, metric, horizon) of
-- the latest backtest run of each grain (see backtest_scores), the report's score tables.
select l.period_grain, s.*
from backtest_scores s
join latest_backtest_runs l using (backtest_run_id)
order by l.period_grain desc, s.split, s.metric, s.horizon, s.status, s.method;
