-- Stable topic identities across fits, and what happened to each topic from fit to fit.
alter table topics add column if not exists stable_id varchar;
alter table topic_runs add column if not exists previous_run_id varchar;
-- Share of papers (in topics both fits found) that keep their stable topic from the previous
-- fit; for two fits of the same papers with different seeds, this is the seed stability.
alter table topic_runs add column if not exists agreement_with_previous double;

-- One row per lineage event of a fit: a topic continued (matched to the previous fit's topic,
-- keeping its stable id), was born, died, split into several, or merged from several.
-- score: the match score for 'continued', the share of the source topic's papers for 'split'
-- and 'merged'.
create table if not exists topic_lineage (
    topic_run_id       varchar not null,
    previous_run_id    varchar,
    event              varchar not null
                       check (event in ('born', 'continued', 'died', 'split', 'merged')),
    stable_id          varchar not null,
    topic_id           integer,
    previous_topic_id  integer,
    score              double
);
