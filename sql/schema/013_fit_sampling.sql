-- How each full fit chose the papers it clustered (pipeline/topics/sampling.py).
-- n_clustered: papers UMAP and HDBSCAN saw (n_docs counts every paper the fit placed).
-- sampling: {"rule": "all" | "period_balanced", "budget", "cap", "papers", "clustered",
--            "groups": [{"source", "period", "papers", "clustered"}, ...]}; null for older fits.
alter table topic_runs add column if not exists n_clustered integer;
alter table topic_runs add column if not exists sampling json;

-- paper_topics.method gains 'placed': a paper a period-balanced fit did not cluster, placed
-- into its nearest topic by the fit's assignment threshold (topic -1 when below it).
-- DuckDB cannot alter a check constraint: the table is rebuilt with the same key and rows.
create table paper_topics_rebuilt (
    topic_run_id  varchar not null,
    paper_id      varchar not null,
    topic_id      integer not null,
    similarity    double,
    method        varchar not null
                  check (method in ('fit', 'outlier_reduction', 'update', 'placed')),
    assigned_at   timestamp not null,
    primary key (topic_run_id, paper_id)
);
insert into paper_topics_rebuilt
select topic_run_id, paper_id, topic_id, similarity, method, assigned_at from paper_topics;
drop table paper_topics;
alter table paper_topics_rebuilt rename to paper_topics;
