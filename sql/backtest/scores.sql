-- scores: one row per (split, method, status, metric, horizon) of the latest backtest run of
-- $period_grain (NULL: any grain), for the CLI's table and the report's Track record page.
with latest as (
    select backtest_run_id from backtest_runs
    where $period_grain::varchar is null or period_grain = $period_grain::varchar
    order by created_at desc limit 1
)
select s.*
from backtest_scores s join latest using (backtest_run_id)
order by split, metric, horizon, status, method;
