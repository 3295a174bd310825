-- How much data stands behind each period, per source and grain, and which periods are partial
-- (not fully covered) or thin (too few papers to read a share).
select source, period_grain, period_start, papers, papers_in_fit, is_partial, is_thin
from corpus_periods
order by source, period_grain, period_start;
