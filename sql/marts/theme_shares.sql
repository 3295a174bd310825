-- theme_shares: one row per (source, period_grain, period_start, theme_id), for every period in
-- which the source has dated papers scored against the themes (a dense grid).
-- papers: members of the theme (see paper_themes.is_member and the rule in themes/themes.toml);
-- denominator: every dated paper of that source and period with a current embedding. A paper
-- may belong to several themes, so theme shares of a period need not sum to 1 (each is <= 1).
-- Same columns as topic_shares: share, 95% Wilson ci_low / ci_high, is_partial.
create or replace table theme_shares as
with scored as (
    select
        p.source,
        pt.theme_id,
        pt.is_member,
        pt.paper_id,
        period_grain(p.date_precision) as period_grain,
        period_start(p.published, p.date_precision) as period_start
    from papers p
    join paper_themes pt on pt.paper_id = p.paper_id
    where p.published is not null
      and p.date_precision <> 'unknown'
      and ($as_of::date is null or p.published <= $as_of::date)
),
per_theme as (
    select source, period_grain, period_start, theme_id,
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
    cp.is_partial
from per_theme t
join themes th using (theme_id)
join corpus_periods cp using (source, period_grain, period_start)
order by t.source, t.period_start, t.theme_id;
