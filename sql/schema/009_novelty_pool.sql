-- Incremental topic updates: the novelty pool, the record of each update run, and the update
-- run in which a lineage event happened.

-- One row per (fit, paper) in the fit's novelty pool: a paper placed by an update whose nearest
-- topic centroid was less similar than the fit's assignment threshold. Its row in paper_topics
-- says topic -1 meanwhile. It leaves the pool when an update forms a new topic around it; a full
-- refit starts with an empty pool (the pool is per fit).
create table if not exists novelty_pool (
    topic_run_id      varchar not null,
    paper_id          varchar not null,
    nearest_topic_id  integer,
    similarity        double,
    update_run_id     varchar not null,
    pooled_at         timestamp not null,
    primary key (topic_run_id, paper_id)
);

-- One row per update run that placed papers into a fit (`trends topics --update`): how many new
-- papers joined existing topics, went to the pool, or formed new topics, and the rules used.
create table if not exists topic_updates (
    update_run_id  varchar primary key,
    topic_run_id   varchar not null,
    model          varchar not null,
    n_new          integer not null,
    n_placed       integer not null,
    n_pooled       integer not null,
    pool_size      integer not null,
    n_born         integer not null,
    n_joined_born  integer not null,
    params         json not null,
    seconds        double,
    created_at     timestamp not null
);

-- Lineage events recorded by an update (topics born from the novelty pool) name the update run;
-- events of full fits leave it null.
alter table topic_lineage add column if not exists update_run_id varchar;
