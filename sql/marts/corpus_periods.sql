-- corpus_periods: one row per (source, period_grain, period_start).
-- Dated papers of each source per period, up to the as-of date, and how many of them the current
-- topic fit covers. Grains (period_grain): papers with day or month dates are counted in their
-- month, quarter AND year; papers with year dates only in their year. A source's year rows are
-- therefore the sum of its months (or its yearly papers). Queries must filter one period_grain.
-- Papers with an unknown date are never in a period.
-- Decisions ($decisions, see mart_builds): 'accepted' counts papers whose review decision is
-- 'accepted' or NULL (no review outcome, e.g. arXiv) and leaves rejected/withdrawn ones out;
-- 'all' counts every paper. Every share mart counts the same papers.
-- is_partial: the period is not fully covered, so its share is shown but kept out of growth
-- statistics: the source's coverage starts or ends inside the period more than three days from
-- its edges (a corpus that starts on May 10 makes May, Q2 and the year partial), or the as-of
-- date falls inside the period. A year date covers its whole year, so yearly sources are never
-- partial by coverage.
-- is_thin: the period holds too few papers to read a share from: fewer than
-- max($thin_min_papers, $thin_fraction x the median papers of the source's periods at that
-- grain). Defaults (pipeline/trends.py): 30 papers or a quarter of a typical period; on the
-- conference corpus this cuts 1987-1999 (50-204 papers a year against a median of ~1,600).
-- Charts dim or cut thin periods; growth statistics never use them.
create or replace table corpus_periods as
with dated as (
    select
        p.paper_id,
        p.source,
        p.published,
        p.date_precision,
        unnest(period_grains(p.date_precision)) as period_grain
    from papers p
    where p.published is not null
      and p.date_precision <> 'unknown'
      and ($as_of::date is null or p.published <= $as_of::date)
      and ($decisions = 'all' or p.decision is null or p.decision = 'accepted')
),
coverage as (
    select source, min(published) as first_day,
           max(precision_end(published, date_precision)) as last_day
    from dated
    group by all
),
periods as (
    select
        d.source,
        d.period_grain,
        grain_start(d.published, d.period_grain) as period_start,
        count(*)::integer as papers,
        count(pt.paper_id)::integer as papers_in_fit,
        min(d.published) as first_published,
        max(d.published) as last_published
    from dated d
    left join paper_topics pt on pt.paper_id = d.paper_id and pt.topic_run_id = $topic_run_id
    group by all
)
select
    p.source,
    p.period_grain,
    p.period_start,
    grain_end(p.period_start, p.period_grain) as period_end,
    p.papers,
    p.papers_in_fit,
    p.first_published,
    p.last_published,
    (
        ($as_of::date is not null and $as_of::date < grain_end(p.period_start, p.period_grain))
        or c.first_day > p.period_start + interval 3 day
        or c.last_day < grain_end(p.period_start, p.period_grain) - interval 3 day
    ) as is_partial,
    p.papers < greatest($thin_min_papers, $thin_fraction
        * median(p.papers) over (partition by p.source, p.period_grain)) as is_thin
from periods p
join coverage c using (source)
order by p.source, p.period_grain, p.period_start;
