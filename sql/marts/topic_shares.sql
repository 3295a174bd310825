-- topic_shares: one row per (source, period_grain, period_start, topic_id) of the current fit,
-- for every period of corpus_periods in which the source has papers in the fit (a dense grid:
-- zero counts are rows). Every grain of corpus_periods is here (month, quarter and year for
-- day/month-precision sources, year for year-precision ones): filter one period_grain.
-- share = papers / denominator, where the denominator is every dated paper of that source and
-- period that the fit covers (outliers, topic_id -1, included) and that the decisions setting
-- counts (see corpus_periods), so the shares of a period and source sum to 1 over all topics
-- and to at most 1 over real topics.
-- ci_low / ci_high: 95% Wilson interval. is_partial: from corpus_periods.
-- is_thin: the denominator is below max($thin_min_papers, $thin_fraction x the median
-- denominator of the source's periods at that grain) (the rule of corpus_periods, applied to
-- this mart's denominator).
create or replace table topic_shares as
with assigned as (
    select
        p.source,
        pt.topic_id,
        unnest(period_grains(p.date_precision)) as period_grain,
        p.published
    from papers p
    join paper_topics pt on pt.paper_id = p.paper_id and pt.topic_run_id = $topic_run_id
    where p.published is not null
      and p.date_precision <> 'unknown'
      and ($as_of::date is null or p.published <= $as_of::date)
      and ($decisions = 'all' or p.decision is null or p.decision = 'accepted')
),
counts as (
    select source, period_grain, grain_start(published, period_grain) as period_start, topic_id,
           count(*) as papers
    from assigned
    group by all
),
grid as (
    select cp.source, cp.period_grain, cp.period_start, cp.period_end, cp.is_partial,
           cp.papers_in_fit as denominator, t.topic_id, t.label
    from corpus_periods cp
    cross join (select topic_id, coalesce(name, label) as label  -- the name, where the fit has one
                from topics where topic_run_id = $topic_run_id) t
    where cp.papers_in_fit > 0
)
select
    g.source,
    g.period_grain,
    g.period_start,
    g.period_end,
    g.topic_id,
    g.label,
    coalesce(c.papers, 0)::integer as papers,
    g.denominator,
    coalesce(c.papers, 0) / g.denominator as share,
    wilson_low(coalesce(c.papers, 0), g.denominator) as ci_low,
    wilson_high(coalesce(c.papers, 0), g.denominator) as ci_high,
    g.is_partial,
    g.denominator < greatest($thin_min_papers, $thin_fraction
        * median(g.denominator) over (partition by g.source, g.period_grain)) as is_thin
from grid g
left join counts c using (source, period_grain, period_start, topic_id)
order by g.source, g.period_grain, g.period_start, g.topic_id;
