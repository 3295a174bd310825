-- The fit and the build the report shows (one row).
select r.topic_run_id, r.model, r.seed, r.params, r.n_docs, r.n_topics, r.outlier_share,
       r.npmi, r.diversity, r.seed_agreement, r.fit_seconds, r.created_at, b.as_of, b.built_at,
       (select count(*) from papers) as n_papers,
       (select count(*) from papers where published is null) as n_undated,
       (select strftime(min(published), '%Y-%m-%d') from papers) as first_published,
       (select strftime(max(published), '%Y-%m-%d') from papers) as last_published,
       (select strftime(max(finished_at), '%Y-%m-%d %H:%M UTC') from ingest_runs where status = 'complete') as last_ingest
from topic_runs r
join mart_builds b on b.topic_run_id = r.topic_run_id;
