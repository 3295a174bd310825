-- Share over time of every topic on every source: the rows behind the share charts.
select source, period_grain, period_start, topic_id, label, papers, denominator, share,
       ci_low, ci_high, is_partial
from topic_shares
order by source, topic_id, period_start;
