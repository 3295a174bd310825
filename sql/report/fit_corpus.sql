-- The length of the fit's documents, for the About page's quality rule (one row): how many
-- papers the fit holds, the median number of words of their text as the fit read it (title
-- and abstract, split on white space), and the sources they come from, sorted.
select count(*) as papers,
       median(len(regexp_split_to_array(trim(p.title || ' ' || coalesce(p.abstract, '')), '\s+')))
           as median_words,
       list_sort(list_distinct(list(p.source))) as sources
from paper_topics pt
join papers p on p.paper_id = pt.paper_id
where pt.topic_run_id = $topic_run_id;
