-- latest_backtest_runs: one row per period_grain, the newest backtest run of that grain (the
-- run the report's Track record page and analysts read).
create or replace view latest_backtest_runs as
select backtest_run_id, period_grain
from (
    select *, row_number() over (partition by period_grain order by created_at desc) as rn
    from backtest_runs
)
where rn = 1;
