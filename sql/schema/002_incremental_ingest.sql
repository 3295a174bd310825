-- Incremental and resumable ingest: page counts of runs, watermarks per source stream, and the
-- resumption state of paged ingests. One row per the grain stated above each table.

-- Paged ingests (arXiv API, OAI-PMH, Kaggle snapshot) add to their run's counts page by page.
alter table ingest_runs add column n_pages integer;
alter table ingest_runs add column n_skipped integer;
alter table ingest_runs add column n_resumes integer;

-- One row per (source, scope): how far a stream has been ingested (an ISO date, compared as
-- text), the default start of its next incremental run. scope names the part of the source,
-- e.g. 'https://export.arxiv.org/oai2 set=cs' or 'cat=cs.AI'.
create table if not exists source_watermarks (
    source      varchar not null,
    scope       varchar not null,
    watermark   varchar not null,
    run_id      varchar not null,
    updated_at  timestamp not null,
    primary key (source, scope)
);

-- One row per (source, scope) with an unfinished paged ingest: the run it belongs to, the
-- parameters a rerun must match to resume it, and where the next page starts (an OAI-PMH
-- resumption token, an API offset, a file offset). Written in the same transaction as each
-- page's records, and deleted when the run completes.
create table if not exists ingest_state (
    source        varchar not null,
    scope         varchar not null,
    run_id        varchar not null,
    params        json not null,
    resume_token  varchar,
    watermark     varchar,
    pages         integer not null,
    updated_at    timestamp not null,
    primary key (source, scope)
);
