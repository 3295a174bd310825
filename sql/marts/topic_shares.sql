-- topic_shares: one row per (source, period_grain, period_start, topic_id) of the current fit,
-- for every period in which the source has papers in the fit (a dense grid: zero counts are rows).
-- share = papers / denominator, where the denominator is every paper of that source and period
-- that the fit covers (outliers, topic_id -1, included), so the shares of a period and source sum
-- to 1 over all topics and to at most 1 over real topics. ci_low/ci_high: 95% Wilson interval.
-- is_partial: the period is not fully covered (the source starts or stops inside it, more than
-- three days from its edges, or the as-of date falls inside it); partial periods stay in the
-- table for display but are left out of growth statistics.
create or replace table topic_shares as
with assigned as (
    select
        p.source,
        p.published,
        pt.topic_id,
        case when p.date_precision = 'year' then 'year' else 'month' end as period_grain,
        case when p.date_precision = 'year' then date_trunc('year', p.published)
             else date_trunc('month', p.published) end::date as period_start
    from papers p
    join paper_topics pt on pt.paper_id = p.paper_id and pt.topic_run_id = $topic_run_id
    where p.published is not null
      and p.date_precision <> 'unknown'
      and ($as_of::date is null or p.published <= $as_of::date)
),
coverage as (
    select source, period_grain, min(published) as first_day, max(published) as last_day
    from assigned
    group by all
),
periods as (
    select source, period_grain, period_start, count(*) as denominator
    from assigned
    group by all
),
counts as (
    select source, period_grain, period_start, topic_id, count(*) as papers
    from assigned
    group by all
),
grid as (
    select pr.*, t.topic_id, t.label
    from periods pr
    cross join (select topic_id, label from topics where topic_run_id = $topic_run_id) t
),
shares as (
    select
        g.source,
        g.period_grain,
        g.period_start,
        (g.period_start + case when g.period_grain = 'year' then interval 1 year
                               else interval 1 month end - interval 1 day)::date as period_end,
        g.topic_id,
        g.label,
        coalesce(c.papers, 0)::integer as papers,
        g.denominator::integer as denominator
    from grid g
    left join counts c using (source, period_grain, period_start, topic_id)
)
select
    s.source,
    s.period_grain,
    s.period_start,
    s.period_end,
    s.topic_id,
    s.label,
    s.papers,
    s.denominator,
    s.papers / s.denominator as share,
    greatest(0.0, (s.papers / s.denominator + 1.96 ^ 2 / (2 * s.denominator)
        - 1.96 * sqrt(s.papers / s.denominator * (1 - s.papers / s.denominator) / s.denominator
                      + 1.96 ^ 2 / (4 * s.denominator ^ 2)))
        / (1 + 1.96 ^ 2 / s.denominator)) as ci_low,
    least(1.0, (s.papers / s.denominator + 1.96 ^ 2 / (2 * s.denominator)
        + 1.96 * sqrt(s.papers / s.denominator * (1 - s.papers / s.denominator) / s.denominator
                      + 1.96 ^ 2 / (4 * s.denominator ^ 2)))
        / (1 + 1.96 ^ 2 / s.denominator)) as ci_high,
    (
        ($as_of::date is not null and $as_of::date < s.period_end)
        or (s.period_grain = 'month'
            and (cv.first_day > s.period_start + interval 3 day
                 or cv.last_day < s.period_end - interval 3 day))
    ) as is_partial
from shares s
join coverage cv using (source, period_grain)
order by s.source, s.period_start, s.topic_id;
