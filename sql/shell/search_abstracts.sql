-- Ranked full-text search (BM25) over the titles and abstracts of the published database, with
-- each hit's topic in the fit the marts were built from. A script for the `duckdb` shell that
-- `make setup` installs; it works offline and changes nothing in the database. From the repo root
-- (the shell's own database is in memory; the published one is attached read-only as `trends`):
--
--   .venv/bin/duckdb -cmd "attach 'var/trends.duckdb' as trends (read_only)" \
--       -cmd "set variable query = 'structured pruning of attention heads'" \
--       < sql/shell/search_abstracts.sql
--
-- The fts extension comes from the duckdb-extension-fts wheel in .venv, loaded by its path (no
-- download). The published file stays read-only, so the index is built in the shell's in-memory
-- database every time the script runs: 8 s of CPU for the 31,466 papers of the arXiv 2025
-- corpus (23 s wall on two shared cores, 2026-12-04). Words are stemmed (Porter, English) and
-- English stop words are ignored; a paper must contain at least one of the query's words.
-- Tested by tests/sql/test_shell_search.py.
load '.venv/lib/python3.11/site-packages/duckdb_extension_fts/extensions/v1.5.5/fts.duckdb_extension';

create table search_docs as
select
    p.paper_id,
    p.title,
    p.published,
    coalesce(t.label, 'no topic') as topic,
    p.title || ' ' || p.abstract as body
from trends.papers p
left join trends.paper_topics pt on pt.paper_id = p.paper_id
    and pt.topic_run_id = (select topic_run_id from trends.mart_builds)
left join trends.topics t on t.topic_run_id = pt.topic_run_id and t.topic_id = pt.topic_id;

pragma create_fts_index('search_docs', 'paper_id', 'body');

select paper_id, title, published, topic, round(score, 3) as score
from (
    select *, fts_main_search_docs.match_bm25(paper_id, getvariable('query')) as score
    from search_docs
)
where score is not null
order by score desc, paper_id
limit 20;
