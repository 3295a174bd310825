-- track_record_runs: one row per period grain: the latest backtest run of that grain, for the
-- report's Track record page (empty when no backtest was run).
select r.*
from backtest_runs r
join latest_backtest_runs l using (backtest_run_id, period_grain)
order by r.period_grain desc;
