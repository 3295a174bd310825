-- load_shares: the share marts of one cut-off (view incoming_shares, rows of cutoff_shares) as
-- the tables series_growth and series_status read, in a backtest's tuning store (a scratch
-- store, never the working one): topic_shares (one row per source, grain, period, topic),
-- theme_shares (one row per source, grain, period, theme), and stable_ids (one row per topic:
-- its stable id). Each cut-off replaces the previous one's.
create or replace table topic_shares as
select source, period_grain, period_start::date as period_start, series_id::integer as topic_id, label, papers,
       denominator, is_partial, is_thin
from incoming_shares
where kind = 'topic';

create or replace table theme_shares as
select source, period_grain, period_start::date as period_start, series_id as theme_id, label as name, papers,
       denominator, is_partial, is_thin
from incoming_shares
where kind = 'theme';

create or replace table stable_ids as
select distinct series_id, stable_id
from incoming_shares
where kind = 'topic';
