-- Each paper's text as the themes calibrate it: title and abstract. One row per paper_id.
select paper_id, title || ' ' || abstract as t
from papers;
