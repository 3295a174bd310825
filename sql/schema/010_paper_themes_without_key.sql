-- paper_themes keeps its grain, one row per (theme, paper with a current embedding), without a
-- primary-key index: ten themes over a million papers are ten million rows, and analyze replaces
-- them in one transaction, whose key index alone outgrows the writer's memory limit
-- (TRENDS_DUCKDB_MEMORY_LIMIT) and fails the build. Each analyze deletes every row and writes
-- one per pair from a single scoring pass, so no duplicate can arise. DuckDB cannot drop a
-- constraint: the table is rebuilt without it.
create table paper_themes_rebuilt (
    theme_id      varchar not null,
    paper_id      varchar not null,
    similarity    double not null,
    keyword_hit   boolean not null,
    is_member     boolean not null
);
insert into paper_themes_rebuilt select theme_id, paper_id, similarity, keyword_hit, is_member
from paper_themes;
drop table paper_themes;
alter table paper_themes_rebuilt rename to paper_themes;
