-- Every paper for the site's search box: title, date, link and topic (one row per paper).
select p.title, strftime(p.published, '%Y-%m-%d') as published, p.url,
       coalesce(pt.topic_id, -1) as topic_id
from papers p
left join paper_topics pt on pt.paper_id = p.paper_id and pt.topic_run_id = $topic_run_id
order by p.published desc nulls last, p.paper_id;
