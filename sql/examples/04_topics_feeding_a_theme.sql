-- Which topics feed a theme: of the theme's member papers, how many fall in each topic.
select
    t.topic_id,
    t.label,
    count(*) as theme_papers,
    round(count(*) / sum(count(*)) over () * 100, 1) as pct_of_theme
from paper_themes m
join paper_topics pt on pt.paper_id = m.paper_id
    and pt.topic_run_id = (select topic_run_id from mart_builds)
join topics t on t.topic_run_id = pt.topic_run_id and t.topic_id = pt.topic_id
where m.theme_id = 'network-pruning' and m.is_member
group by all
order by theme_papers desc
limit 10;
