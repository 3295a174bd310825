-- Up to five papers per topic closest to the topic's centroid: what a topic is about, in papers.
with reps as (
    select t.topic_id, unnest(t.representative_ids) as paper_id,
           generate_subscripts(t.representative_ids, 1) as rank
    from topics t
    where t.topic_run_id = $topic_run_id
)
select r.topic_id, r.rank, p.paper_id, p.title, p.published, p.date_precision, p.url, p.authors
from reps r
join papers p using (paper_id)
order by r.topic_id, r.rank;
