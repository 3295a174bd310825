-- Seed stability of every full fit: the fit is clustered a second time with seed + 1 (same
-- neighbours, UMAP, HDBSCAN and outlier reduction; no topic words), the two clusterings' topics
-- are matched as a refit's are to the previous fit's, and this is the share of papers, in topics
-- both found, that keep their topic. Null for fits made before it existed or with the check off.
alter table topic_runs add column if not exists seed_agreement double;
