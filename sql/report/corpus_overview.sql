-- Papers per period of every source at one grain ($grain): the papers-per-period charts, with
-- how many the fit covers and whether the period is partial or too thin to read.
select source, period_grain, period_start, papers, papers_in_fit, is_partial, is_thin
from corpus_periods
where period_grain = $grain
order by source, period_start;
