-- The papers behind the fastest-rising topic (monthly grain): its papers of the latest
-- complete month, most typical first (closest to the topic's centre).
with rising as (
    select source, topic_id, window_end
    from topic_growth
    where period_grain = 'month' and papers >= 20
    order by log_share_slope desc
    limit 1
)
select p.title, p.published, round(pt.similarity, 3) as similarity, p.url
from rising r
join paper_topics pt on pt.topic_id = r.topic_id
    and pt.topic_run_id = (select topic_run_id from mart_builds)
join papers p using (paper_id)
where p.source = r.source and date_trunc('month', p.published) = r.window_end
order by pt.similarity desc
limit 20;
