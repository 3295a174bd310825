-- theme_shares: one row per (source, period_grain, period_start, theme_id), for every period in
-- which the source has dated papers scored against the themes (a dense grid). Every grain of
-- corpus_periods is here (month, quarter and year for day/month-precision sources, year for
-- year-precision ones): filter one period_grain.
-- papers: members of the theme (see paper_themes.is_member and the rule in themes/themes.toml);
-- denominator: every dated paper of that source and period with a current embedding that the
-- decisions setting counts (see corpus_periods). A paper may belong to several themes, so
-- theme shares of a period need not sum to 1 (each is <= 1).
-- Same columns as topic_shares: share, 95% Wilson ci_low / ci_high, is_partial, and is_thin:
-- the denominator is below max($thin_min_papers, $thin_fraction x the median denominator of the
-- source's periods at that grain).
create or replace table theme_shares as
with scored as (
    select
        p.source,
        pt.theme_id,
        pt.is_member,
        unnest(period_grains(p.date_precision)) as period_grain,
        p.published
    from papers p
    join paper_themes pt on pt.paper_id = p.paper_id
    where p.published is not null
      and p.date_precision <> 'unknown'
      and ($as_of::date is null or p.published <= $as_of::date)
      and ($decisions = 'all' or p.decision is null or p.decision = 'accepted')
),
per_theme as (
    select source, period_grain, grain_start(published, period_grain) as period_start, theme_id,
           count(*) filter (where is_member) as papers,
           count(*) as denominator
    from scored
    group by all
)
select
    t.source,
    t.period_grain,
    t.period_start,
    cp.period_end,
    t.theme_id,
    th.name,
    t.papers::integer as papers,
    t.denominator::integer as denominator,
    t.papers / t.denominator as share,
    wilson_low(t.papers, t.denominator) as ci_low,
    wilson_high(t.papers, t.denominator) as ci_high,
    cp.is_partial,
    t.denominator < greatest($thin_min_papers, $thin_fraction
        * median(t.denominator) over (partition by t.source, t.period_grain)) as is_thin
from per_theme t
join themes th using (theme_id)
join corpus_periods cp using (source, period_grain, period_start)
order by t.source, t.period_grain, t.period_start, t.theme_id;
