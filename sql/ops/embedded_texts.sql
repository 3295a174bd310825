-- Every paper with a current embedding for the model: its vector and its text, for theme scoring.
-- One row per paper. Run in $parts hash partitions of paper_id ($part = 0 .. $parts - 1), so the
-- join holds a slice of the vectors at a time: a million vectors joined at once did not fit a
-- 256MB memory limit. The filter is on both sides so that each scan drops the other parts.
select e.paper_id, e.embedding, p.title || ' ' || p.abstract as text
from paper_embeddings e
join papers p on p.paper_id = e.paper_id and p.content_hash = e.content_hash
where e.model = $model
  and hash(e.paper_id) % $parts = $part
  and hash(p.paper_id) % $parts = $part;
