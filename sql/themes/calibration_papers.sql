-- Papers `trends themes calibrate` scores for one embedding model: the labelled papers
-- ($ids) embedded with it, and a deterministic sample of up to $sample other embedded papers
-- (the lowest hashes of paper_id) that sets each theme's strong floor and member share.
-- One row per paper; `labelled` says which part it belongs to. The ids are chosen before any
-- vector or text is read, so a large store stays within the memory limit.
with chosen as (
    select paper_id, true as labelled
    from paper_embeddings
    where model = $model and list_contains($ids, paper_id)
    union all
    (select paper_id, false as labelled
     from paper_embeddings
     where model = $model and not list_contains($ids, paper_id)
     order by hash(paper_id), paper_id
     limit $sample)
)
select c.paper_id, e.embedding, p.title || ' ' || p.abstract as text, c.labelled
from chosen c
join paper_embeddings e on e.paper_id = c.paper_id and e.model = $model
join papers p on p.paper_id = e.paper_id and p.content_hash = e.content_hash
