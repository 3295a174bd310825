-- corpus_periods: one row per (source, period_grain, period_start).
-- How many dated papers each source has per period (up to the as-of date), and how many of them
-- the current topic fit covers. Periods are months for day/month-precision dates, years for
-- year-precision dates. Papers with an unknown date are counted in `undated_papers` only.
create or replace table corpus_periods as
with dated as (
    select
        p.paper_id,
        p.source,
        p.published,
        case when p.date_precision = 'year' then 'year' else 'month' end as period_grain,
        case when p.date_precision = 'year' then date_trunc('year', p.published)
             else date_trunc('month', p.published) end::date as period_start
    from papers p
    where p.published is not null
      and p.date_precision <> 'unknown'
      and ($as_of::date is null or p.published <= $as_of::date)
)
select
    d.source,
    d.period_grain,
    d.period_start,
    count(*)::integer as papers,
    count(pt.paper_id)::integer as papers_in_fit,
    min(d.published) as first_published,
    max(d.published) as last_published
from dated d
left join paper_topics pt on pt.paper_id = d.paper_id and pt.topic_run_id = $topic_run_id
group by all
order by d.source, d.period_start;
