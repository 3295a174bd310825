-- How often our rising calls came true a year later, beside the two baselines, on the scored
-- (post-tuning) cut-offs of the latest yearly backtest (`trends backtest`, docs/backtest.md).
-- backtest_scores has one row per (backtest_run_id, split, method, status, metric, horizon).
with latest as (
    select backtest_run_id from backtest_runs
    where period_grain = 'year'
    order by created_at desc
    limit 1
)
select method, status, n as calls, hits as came_true,
       round(value * 100, 1) as pct, round(ci_low * 100, 1) as lo, round(ci_high * 100, 1) as hi
from backtest_scores
join latest using (backtest_run_id)
where split = 'scored' and metric = 'precision' and horizon = 1
  and status in ('rising', 'emerging', 'growing', 'up')
order by status, method;
