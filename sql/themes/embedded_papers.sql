-- How many papers hold a vector of one embedding model (one row, column n).
select count(*) as n from paper_embeddings where model = $model
