-- Papers with no current embedding for the model: never embedded, or edited since.
-- One row per paper; the text to embed is the title and the abstract.
-- No order: sorting every text does not fit DuckDB's memory limit at a million papers
-- (it failed at 256MB), and the encoders sort each chunk by length themselves.
select p.paper_id, p.content_hash, p.title || '. ' || p.abstract as text
from papers p
left join paper_embeddings e
  on e.paper_id = p.paper_id and e.model = $model and e.content_hash = p.content_hash
where e.paper_id is null;
