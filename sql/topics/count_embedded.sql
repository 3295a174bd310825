-- How many papers have an embedding of one model. One row.
select count(*) as n
from paper_embeddings
where model = $model;
