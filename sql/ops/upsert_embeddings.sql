-- Store a chunk of embeddings (view `incoming_embeddings`); replaces stale ones of the model.
insert into paper_embeddings (paper_id, model, content_hash, embedding, embedded_at)
select paper_id, model, content_hash, embedding, $now from incoming_embeddings
on conflict (paper_id, model) do update set
    content_hash = excluded.content_hash,
    embedding    = excluded.embedding,
    embedded_at  = excluded.embedded_at;
