-- papers_between: one row per dated paper published after $after (NULL: from the start) and up to
-- $cutoff, every column of `papers`: what a backtest's scratch store may know at a cut-off.
-- Undated papers are left out: nobody can tell whether they existed at the cut-off.
select *
from papers
where published is not null
  and date_precision <> 'unknown'
  and published <= $cutoff::date
  and ($after::date is null or published > $after::date)
order by paper_id;
