-- Share over time of every area of the current fit (its topics' papers together), per source at
-- one grain ($grain): one row per (source, period, area). Built from topic_shares, so the
-- denominator is the topics' (every paper of the fit in that source and period); the interval
-- is Wilson's, as for topics. Empty for fits made before areas.
with areas as (
    select t.topic_id, t.area_id, a.name
    from topics t
    join topic_areas a on a.topic_run_id = t.topic_run_id and a.area_id = t.area_id
    where t.topic_run_id = $topic_run_id and t.topic_id <> -1
),
summed as (
    select s.source, s.period_grain, s.period_start, a.area_id, any_value(a.name) as label,
           sum(s.papers)::integer as papers, any_value(s.denominator) as denominator,
           bool_or(s.is_partial) as is_partial, bool_or(s.is_thin) as is_thin
    from topic_shares s
    join areas a on a.topic_id = s.topic_id
    where s.period_grain = $grain
    group by s.source, s.period_grain, s.period_start, a.area_id
)
select source, period_grain, period_start, area_id, label, papers, denominator,
       papers / denominator as share, wilson_low(papers, denominator) as ci_low,
       wilson_high(papers, denominator) as ci_high, is_partial, is_thin
from summed
order by source, area_id, period_start;
