-- Papers waiting in a fit's novelty pool, one row each.
select paper_id from novelty_pool where topic_run_id = $topic_run_id order by paper_id
