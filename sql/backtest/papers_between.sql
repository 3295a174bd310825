-- papers_between: one row per dated paper published after $after (NULL: from the start) and up to
-- $cutoff, every column of `papers`: what a backtest's scratch store may know at a cut-off.
-- Undated papers are left out: nobody can tell whether they existed at the cut-off. $source
-- (NULL: every source) keeps one source's papers only (an arXiv-only monthly backtest).
select *
from papers
where published is not null
  and date_precision <> 'unknown'
  and published <= $cutoff::date
  and ($after::date is null or published > $after::date)
  and ($source::varchar is null or source = $source::varchar)
order by paper_id;
