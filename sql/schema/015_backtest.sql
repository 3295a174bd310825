-- Point-in-time backtests (pipeline/backtest.py, `trends backtest`, docs/backtest.md).

-- backtest_runs: one row per backtest run: its cut-off range, grain, how topics were made at
-- each cut-off ('refit': a fit per cut-off matched to the previous one; 'place': the first
-- cut-off's fit, later papers placed into it), the tuning split and what it cost.
create table if not exists backtest_runs (
    backtest_run_id  varchar primary key,
    period_grain     varchar not null,
    date_from        date not null,
    date_to          date not null,
    topic_mode       varchar not null check (topic_mode in ('refit', 'place')),
    tune_until       integer,
    model            varchar not null,
    fit_budget       integer,
    cutoffs          integer not null,
    calls            integer not null,
    seconds          double not null,
    created_at       timestamp not null
);

-- backtest_calls: one row per (backtest_run_id, method, cutoff, kind, source, series_id): what a
-- method called a series at a cut-off, from papers published up to it only, and what followed.
--   method      'status' (the marts' series_status), 'last_change' (baseline: last period's share
--               beyond the previous period's interval), 'count_growth' (baseline: more or fewer
--               papers than the previous period)
--   status      for 'status' the mart's status; for the baselines 'up', 'down' or 'flat'
--   series_id   a theme id, or a topic's stable id (stable across the cut-offs' fits)
--   base_period the call's period (the source's last readable period at the cut-off), its share
--               and 95% Wilson interval
--   outcome_1..3  'up' / 'down' / 'flat': the share h periods later left the base period's
--               interval upwards / downwards / did not, both periods read from the point-in-time
--               marts of cut-off + h (NULL when that cut-off is not in the run or the series is
--               gone); change_1..3 the later share minus the base share
--   split       'tuning' (cut-offs the rules may be tuned on) or 'scored'
create table if not exists backtest_calls (
    backtest_run_id  varchar not null,
    method           varchar not null,
    cutoff           date not null,
    kind             varchar not null,
    source           varchar not null,
    series_id        varchar not null,
    label            varchar,
    status           varchar not null,
    base_period      date,
    base_share       double,
    base_ci_low      double,
    base_ci_high     double,
    outcome_1        varchar,
    outcome_2        varchar,
    outcome_3        varchar,
    change_1         double,
    change_2         double,
    change_3         double,
    split            varchar not null,
    primary key (backtest_run_id, method, cutoff, kind, source, series_id)
);

-- backtest_scores: one row per (backtest_run_id, split, method, status, metric, horizon):
--   metric 'precision'  share of the status's calls whose series moved that way (up for new,
--                       emerging, growing and up; down for declining, fading and down) h periods
--                       later; n = scored calls, hits = calls that came true, ci_* 95% Wilson
--          'recall'     share of the later top risers (the top decile of change_h among series
--                       that went up) called rising at the cut-off (status = 'rising')
--          'lead_time'  median periods from a series' first rising call to the period its share
--                       first doubled (horizon 0: any later cut-off of the run; n = series)
create table if not exists backtest_scores (
    backtest_run_id  varchar not null,
    split            varchar not null,
    method           varchar not null,
    status           varchar not null,
    metric           varchar not null,
    horizon          integer not null,
    n                integer not null,
    hits             integer,
    value            double,
    ci_low           double,
    ci_high          double,
    primary key (backtest_run_id, split, method, status, metric, horizon)
);
