-- Share over time of every theme on every source at one grain ($grain: month, quarter or year):
-- the rows behind the theme charts. is_thin periods have too small a denominator to read.
select source, period_grain, period_start, theme_id, name as label, papers, denominator, share,
       ci_low, ci_high, is_partial, is_thin
from theme_shares
where period_grain = $grain
order by source, theme_id, period_start;
