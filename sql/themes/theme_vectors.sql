-- Cached mean seed-phrase vectors of the themes for one embedding model: one row per
-- (theme_id, seeds_hash) of that model.
select theme_id, seeds_hash, vector from theme_vectors where model = $model
