-- Current embeddings of a model: one row per paper whose stored vector matches its content.
-- No order: pipeline/embed.py load_embeddings sorts in Python (DuckDB sorting a million
-- vectors overran its memory limit).
select e.paper_id, e.embedding
from paper_embeddings e
join papers p on p.paper_id = e.paper_id and p.content_hash = e.content_hash
where e.model = $model
