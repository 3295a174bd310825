-- theme_vectors: one row per (theme, seeds hash) cached for $model: copied into the scratch
-- store so scoring themes there needs no model.
select theme_id, model, seeds_hash, vector from theme_vectors where model = $model;
