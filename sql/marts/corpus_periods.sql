-- corpus_periods: one row per (source, period_grain, period_start).
-- Dated papers of each source per period, up to the as-of date, and how many of them the current
-- topic fit covers. Periods are months for day/month-precision dates and years for
-- year-precision dates; papers with an unknown date are never in a period.
-- is_partial: the period is not fully covered, so its share is shown but kept out of growth
-- statistics: the source's coverage starts or ends inside the month more than three days from
-- its edges (a corpus that starts on the 10th), or the as-of date falls inside the period.
create or replace table corpus_periods as
with dated as (
    select
        p.paper_id,
        p.source,
        p.published,
        period_grain(p.date_precision) as period_grain,
        period_start(p.published, p.date_precision) as period_start
    from papers p
    where p.published is not null
      and p.date_precision <> 'unknown'
      and ($as_of::date is null or p.published <= $as_of::date)
),
coverage as (
    select source, period_grain, min(published) as first_day, max(published) as last_day
    from dated
    group by all
),
periods as (
    select
        d.source,
        d.period_grain,
        d.period_start,
        (d.period_start + case when d.period_grain = 'year' then interval 1 year
                               else interval 1 month end - interval 1 day)::date as period_end,
        count(*)::integer as papers,
        count(pt.paper_id)::integer as papers_in_fit,
        min(d.published) as first_published,
        max(d.published) as last_published
    from dated d
    left join paper_topics pt on pt.paper_id = d.paper_id and pt.topic_run_id = $topic_run_id
    group by all
)
select
    p.*,
    (
        ($as_of::date is not null and $as_of::date < p.period_end)
        or (p.period_grain = 'month'
            and (c.first_day > p.period_start + interval 3 day
                 or c.last_day < p.period_end - interval 3 day))
    ) as is_partial
from periods p
join coverage c using (source, period_grain)
order by p.source, p.period_start;
