-- Save one full fit (call inside a transaction; pipeline/topics/persistence.py save_fit).
-- Views: incoming_topics (rows of `topics`), incoming_paper_topics (paper_id, topic_id,
-- similarity, method, assigned_at), incoming_map (paper_id, x, y), incoming_lineage (event,
-- stable_id, topic_id, previous_topic_id, score), incoming_areas (area_id, name, n_topics).
-- A fit id is new each time: plain inserts.
insert into topic_runs (topic_run_id, kind, model, seed, params, n_docs, n_topics, outlier_share,
                        npmi, diversity, seed_agreement, fit_seconds, created_at,
                        previous_run_id, agreement_with_previous, n_clustered, sampling)
values ($topic_run_id, 'full', $model, $seed, $params, $n_docs, $n_topics, $outlier_share,
        $npmi, $diversity, $seed_agreement, $fit_seconds, $created_at,
        $previous_run_id, $agreement, $n_clustered, $sampling);

insert into topics by name
select * from incoming_topics;

insert into paper_topics by name
select $topic_run_id as topic_run_id, paper_id, topic_id, similarity, method, assigned_at
from incoming_paper_topics;

insert into paper_map by name
select $topic_run_id as topic_run_id, paper_id::varchar as paper_id, x::float as x, y::float as y
from incoming_map;

insert into topic_lineage by name
select $topic_run_id as topic_run_id, $previous_run_id::varchar as previous_run_id, event,
       stable_id, topic_id::integer as topic_id, previous_topic_id::integer as previous_topic_id,
       score::double as score
from incoming_lineage;

insert into topic_areas by name
select $topic_run_id as topic_run_id, area_id::integer as area_id, name::varchar as name,
       n_topics::integer as n_topics
from incoming_areas;
