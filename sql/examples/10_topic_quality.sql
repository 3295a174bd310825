-- Quality of the current fit: each topic's coherence (NPMI of its top-10 terms), size and terms.
select
    t.topic_id,
    t.label,
    t.size,
    round(t.npmi, 3) as npmi,
    t.terms[1:5] as top_terms
from topics t
where t.topic_run_id = (select topic_run_id from mart_builds) and t.topic_id <> -1
order by t.npmi desc;
