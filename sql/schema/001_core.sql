-- Core tables of the store. One row per the grain stated above each table.

-- One row per ingest run.
create table if not exists ingest_runs (
    run_id        varchar primary key,
    source        varchar not null,
    params        json,
    started_at    timestamp not null,
    finished_at   timestamp,
    status        varchar not null check (status in ('running', 'complete', 'failed')),
    n_received    integer,
    n_new         integer,
    n_updated     integer,
    n_unchanged   integer,
    n_rejected    integer,
    watermark     varchar
);

-- One row per distinct record received from a source (lossless payload, for replay and audit).
create table if not exists raw_records (
    source        varchar not null,
    payload_hash  varchar not null,
    record_key    varchar,
    payload       varchar not null,
    first_run_id  varchar not null,
    received_at   timestamp not null,
    primary key (source, payload_hash)
);

-- One row per distinct record that failed validation, with the reason.
create table if not exists rejected_records (
    source        varchar not null,
    payload_hash  varchar not null,
    record_key    varchar,
    reason        varchar not null,
    detail        varchar,
    run_id        varchar not null,
    rejected_at   timestamp not null,
    primary key (source, payload_hash)
);

-- One row per paper (natural key: arXiv id without version, or the source's own id).
create table if not exists papers (
    paper_id          varchar primary key,
    source            varchar not null,
    title             varchar not null,
    abstract          varchar not null,
    published         date,
    date_precision    varchar not null check (date_precision in ('day', 'month', 'year', 'unknown')),
    categories        varchar[],
    primary_category  varchar,
    venue             varchar,
    authors           varchar,
    url               varchar,
    version           integer not null default 1,
    content_hash      varchar not null,
    first_run_id      varchar not null,
    last_run_id       varchar not null,
    ingested_at       timestamp not null,
    updated_at        timestamp not null
);

-- One row per (paper, embedding model); current while content_hash matches papers.content_hash.
create table if not exists paper_embeddings (
    paper_id      varchar not null,
    model         varchar not null,
    content_hash  varchar not null,
    embedding     float[] not null,
    embedded_at   timestamp not null,
    primary key (paper_id, model)
);

-- One row per topic fit, with its parameters and quality figures.
create table if not exists topic_runs (
    topic_run_id   varchar primary key,
    kind           varchar not null check (kind in ('full')),
    model          varchar not null,
    seed           integer not null,
    params         json not null,
    n_docs         integer not null,
    n_topics       integer not null,
    outlier_share  double not null,
    npmi           double,
    diversity      double,
    fit_seconds    double,
    created_at     timestamp not null
);

-- One row per topic of a fit (topic_id -1 holds the outliers).
create table if not exists topics (
    topic_run_id     varchar not null,
    topic_id         integer not null,
    label            varchar not null,
    terms            varchar[] not null,
    term_weights     double[] not null,
    size             integer not null,
    npmi             double,
    centroid         float[],
    representative_ids varchar[],
    primary key (topic_run_id, topic_id)
);

-- One row per paper of a fit: the topic it belongs to and how it got there.
create table if not exists paper_topics (
    topic_run_id  varchar not null,
    paper_id      varchar not null,
    topic_id      integer not null,
    similarity    double,
    method        varchar not null check (method in ('fit', 'outlier_reduction', 'update')),
    assigned_at   timestamp not null,
    primary key (topic_run_id, paper_id)
);
