-- The current marts as an edition, for a store whose marts were built before editions were
-- recorded (migration 020): the columns of report/editions.sql, with no edition number.
select null::integer as edition, b.topic_run_id,
       (select max(update_run_id) from topic_updates u where u.topic_run_id = b.topic_run_id)
           as last_update_run_id,
       b.as_of, b.built_at, b.decisions, b.built_at as recorded_at
from mart_builds b;
