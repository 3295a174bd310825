-- Share over time of every theme on every source: the rows behind the theme charts.
select source, period_grain, period_start, theme_id, name as label, papers, denominator, share,
       ci_low, ci_high, is_partial
from theme_shares
order by source, theme_id, period_start;
