-- embeddings_between: one row per paper of papers_between with a current embedding of $model
-- (every column of `paper_embeddings`). Embeddings do not depend on the date: they are reused.
select e.*
from paper_embeddings e
join papers p on p.paper_id = e.paper_id and p.content_hash = e.content_hash
where e.model = $model
  and p.published is not null
  and p.date_precision <> 'unknown'
  and p.published <= $cutoff::date
  and ($after::date is null or p.published > $after::date)
  and ($source::varchar is null or p.source = $source::varchar)
order by e.paper_id;
