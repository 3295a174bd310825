-- papers_fingerprint: one row: how many dated papers (of $source; NULL: every source) up to
-- $date_to the store holds, how many have a current embedding of $model, and when the latest
-- of them changed. A backtest's cached cut-offs are reused only while this is unchanged.
select count(*) as papers, count(e.paper_id) as embedded,
       coalesce(max(p.updated_at)::varchar, '') as updated_at
from papers p
left join paper_embeddings e
       on e.paper_id = p.paper_id and e.content_hash = p.content_hash and e.model = $model
where p.published is not null
  and p.date_precision <> 'unknown'
  and p.published <= $date_to::date
  and ($source::varchar is null or p.source = $source::varchar);
