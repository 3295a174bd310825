-- One row per (source, period_grain) of corpus_periods: which grains each source can be read
-- in, over which periods, and how many of them are readable (complete and not thin). The
-- report plans its long (yearly) and recent views from this.
select
    source,
    period_grain,
    count(*)::integer as periods,
    count(*) filter (where not is_partial and not is_thin)::integer as readable_periods,
    min(period_start) as first_start,
    max(period_start) as last_start,
    sum(papers)::bigint as papers
from corpus_periods
group by source, period_grain
order by source, period_grain;
