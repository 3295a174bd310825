-- mart_builds: one row: which fit and as-of date the marts above were built from.
create or replace table mart_builds as
select
    $topic_run_id::varchar as topic_run_id,
    $as_of::date as as_of,
    $built_at::timestamp as built_at;
