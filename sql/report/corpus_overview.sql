-- Papers per period and source (the overview bar chart), with how many the fit covers.
select source, period_grain, period_start, papers, papers_in_fit
from corpus_periods
order by source, period_start;
