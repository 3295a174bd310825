-- Every paper of the current fit for its topic's page (one row per paper; outliers are topic
-- -1): title, date at its precision, link, and up to three authors ("et al." past them).
-- Newest first, then by id, so a page lists the same papers in the same order every render.
select
    pt.topic_id,
    p.title,
    case p.date_precision
        when 'day' then strftime(p.published, '%Y-%m-%d')
        when 'month' then strftime(p.published, '%Y-%m')
        when 'year' then strftime(p.published, '%Y')
    end as published,
    p.url,
    case
        when p.authors is null or trim(p.authors) = '' then null
        when len(string_split(p.authors, '; ')) > 3
            then array_to_string(string_split(p.authors, '; ')[1:3], '; ') || ' et al.'
        else p.authors
    end as authors
from paper_topics pt
join papers p using (paper_id)
where pt.topic_run_id = $topic_run_id
order by pt.topic_id, p.published desc nulls last, p.paper_id;
