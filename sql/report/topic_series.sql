-- Share over time of every topic of every source at one grain ($grain: month, quarter or year):
-- the rows behind the topic charts. is_thin periods have too small a denominator to read.
select source, period_grain, period_start, topic_id, label, papers, denominator, share,
       ci_low, ci_high, is_partial, is_thin
from topic_shares
where period_grain = $grain
order by source, topic_id, period_start;
