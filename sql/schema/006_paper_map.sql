-- One row per (fit, sampled paper): 2-D coordinates for the report's topic map (a UMAP
-- projection of the embeddings made with the fit, on a sample so the page stays small).
create table if not exists paper_map (
    topic_run_id  varchar not null,
    paper_id      varchar not null,
    x             float not null,
    y             float not null,
    primary key (topic_run_id, paper_id)
);
