-- How much data stands behind each period, per source, and which periods are partial.
select source, period_grain, period_start, papers, papers_in_fit, is_partial
from corpus_periods
order by source, period_start;
