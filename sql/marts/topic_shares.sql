-- topic_shares: one row per (source, period_grain, period_start, topic_id) of the current fit,
-- for every period in which the source has papers in the fit (a dense grid: zero counts are rows).
-- share = papers / denominator, where the denominator is every dated paper of that source and
-- period that the fit covers (outliers, topic_id -1, included), so the shares of a period and
-- source sum to 1 over all topics and to at most 1 over real topics.
-- ci_low / ci_high: 95% Wilson interval. is_partial: from corpus_periods.
create or replace table topic_shares as
with assigned as (
    select
        p.source,
        pt.topic_id,
        period_grain(p.date_precision) as period_grain,
        period_start(p.published, p.date_precision) as period_start
    from papers p
    join paper_topics pt on pt.paper_id = p.paper_id and pt.topic_run_id = $topic_run_id
    where p.published is not null
      and p.date_precision <> 'unknown'
      and ($as_of::date is null or p.published <= $as_of::date)
),
counts as (
    select source, period_grain, period_start, topic_id, count(*) as papers
    from assigned
    group by all
),
grid as (
    select cp.source, cp.period_grain, cp.period_start, cp.period_end, cp.is_partial,
           cp.papers_in_fit as denominator, t.topic_id, t.label
    from corpus_periods cp
    cross join (select topic_id, label from topics where topic_run_id = $topic_run_id) t
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
    g.is_partial
from grid g
left join counts c using (source, period_grain, period_start, topic_id)
order by g.source, g.period_start, g.topic_id;
