-- Cache newly computed theme vectors (view `incoming_theme_vectors`: theme_id, model,
-- seeds_hash, vector); a theme's vector for the same model and seeds is replaced.
insert or replace into theme_vectors
select theme_id, model, seeds_hash, vector from incoming_theme_vectors
