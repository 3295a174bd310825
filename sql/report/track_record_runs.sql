-- track_record_runs: one row per period grain: the latest backtest run of that grain, for the
-- report's Track record page (empty when no backtest was run).
select * exclude (rn)
from (
    select *, row_number() over (partition by period_grain order by created_at desc) as rn
    from backtest_runs
)
where rn = 1
order by period_grain desc;
