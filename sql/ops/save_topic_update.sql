-- Save one `trends topics --update` run into its fit (call inside a transaction).
-- Views: incoming_placements (paper_id, topic_id, similarity): the new papers, and the pool
-- papers that joined a topic born in this run; incoming_pool (paper_id, nearest_topic_id,
-- similarity): new papers that go to the novelty pool; incoming_new_topics: rows of `topics`
-- born in this run; incoming_births (stable_id, topic_id).
-- Existing topics never change: a paper_topics row is only ever inserted, or moved out of
-- topic -1 (the pool) into a topic born in this run.
insert or ignore into topics by name
select * from incoming_new_topics;

insert into paper_topics (topic_run_id, paper_id, topic_id, similarity, method, assigned_at)
select $topic_run_id, paper_id, topic_id, similarity, 'update', $now
from incoming_placements
on conflict (topic_run_id, paper_id) do update set
    topic_id    = excluded.topic_id,
    similarity  = excluded.similarity,
    assigned_at = excluded.assigned_at
where paper_topics.topic_id = -1;

insert into novelty_pool (topic_run_id, paper_id, nearest_topic_id, similarity, update_run_id, pooled_at)
select $topic_run_id, paper_id, nearest_topic_id, similarity, $update_run_id, $now
from incoming_pool
on conflict (topic_run_id, paper_id) do nothing;

delete from novelty_pool
where topic_run_id = $topic_run_id
  and paper_id in (select paper_id from incoming_placements where topic_id <> -1);

insert into topic_lineage (topic_run_id, previous_run_id, event, stable_id, topic_id, previous_topic_id, score, update_run_id)
select $topic_run_id, null, 'born', b.stable_id, b.topic_id, null, null, $update_run_id
from incoming_births b
where not exists (
    select 1 from topic_lineage l
    where l.topic_run_id = $topic_run_id and l.event = 'born' and l.stable_id = b.stable_id
);

insert into topic_updates (update_run_id, topic_run_id, model, n_new, n_placed, n_pooled, pool_size, n_born, n_joined_born, params, seconds, created_at)
values ($update_run_id, $topic_run_id, $model, $n_new, $n_placed, $n_pooled, $pool_size, $n_born, $n_joined_born, $params, $seconds, $now);
