-- Readable topic names and areas (pipeline/topics/naming.py, pipeline/topics/areas.py).
-- topics.name: 2-6 words from the topic's own papers ("time series forecasting"); the three-word
--   `label` of c-TF-IDF terms stays beside it. Null for fits made before this migration; readers
--   show coalesce(name, label). A topic that continues across refits keeps its name unless its
--   lineage score fell below naming.KEEP_NAME_SCORE (its content moved).
-- topics.area_id: the area (group of topics, hierarchical clustering of centroids) it is in.
alter table topics add column if not exists name varchar;
alter table topics add column if not exists area_id integer;

-- One row per area of a fit: its name and how many topics it groups.
create table if not exists topic_areas (
    topic_run_id  varchar not null,
    area_id       integer not null,
    name          varchar not null,
    n_topics      integer not null,
    primary key (topic_run_id, area_id)
);
