-- Record this analyze build as a report edition: one row in report_editions and its series'
-- statuses in edition_statuses (run after the marts, in the same transaction).
-- A rebuild of the latest edition from the same inputs (fit, its last update, as-of date,
-- decisions) keeps its number, build time and recorded time and replaces its rows, so an analyze
-- run again (a rerun after a crash, a second click) changes nothing; any other build is the next
-- edition.
insert or replace into report_editions
with updates as (
    select max(update_run_id) as last_update_run_id
    from topic_updates
    where topic_run_id = $topic_run_id
),
same as (  -- the latest edition, when this build rebuilds it from the same inputs
    select l.edition, l.built_at, l.recorded_at
    from (select * from report_editions order by edition desc limit 1) l, updates u
    where l.topic_run_id = $topic_run_id
      and l.as_of is not distinct from $as_of::date
      and l.decisions = $decisions
      and l.last_update_run_id is not distinct from u.last_update_run_id
)
select
    coalesce((select edition from same),
             (select coalesce(max(edition), 0) + 1 from report_editions)) as edition,
    $topic_run_id::varchar as topic_run_id,
    (select last_update_run_id from updates) as last_update_run_id,
    $as_of::date as as_of,
    coalesce((select built_at from same), $built_at::timestamp) as built_at,
    $decisions::varchar as decisions,
    coalesce((select recorded_at from same), $recorded_at::timestamp) as recorded_at;

delete from edition_statuses where edition = (select max(edition) from report_editions);

insert into edition_statuses
select
    (select max(edition) from report_editions) as edition,
    s.kind, s.source, s.period_grain,
    case
        when s.kind = 'theme' then s.series_id
        else coalesce(t.stable_id, 'fit:' || $topic_run_id || ':' || s.series_id)
    end as series_key,
    s.series_id, s.label, s.status, s.papers, s.recent_share
from series_status s
left join topics t
    on s.kind = 'topic' and t.topic_run_id = $topic_run_id and t.topic_id::varchar = s.series_id;
