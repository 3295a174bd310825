-- The papers most typical of each theme (highest similarity among its members).
select m.theme_id, p.paper_id, p.title, p.published, p.date_precision, p.url, p.authors,
       m.similarity
from paper_themes m
join papers p using (paper_id)
where m.is_member
qualify row_number() over (partition by m.theme_id order by m.similarity desc, p.paper_id) <= 10
order by m.theme_id, m.similarity desc, p.paper_id;
