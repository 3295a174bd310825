-- track_record_scores: one row per (backtest_run_id, split, method, status, metric, horizon) of
-- the latest backtest run of each grain (see backtest_scores), the report's score tables.
with latest as (
    select backtest_run_id, period_grain
    from (
        select *, row_number() over (partition by period_grain order by created_at desc) as rn
        from backtest_runs
    )
    where rn = 1
)
select l.period_grain, s.*
from backtest_scores s
join latest l using (backtest_run_id)
order by l.period_grain desc, s.split, s.metric, s.horizon, s.status, s.method;
