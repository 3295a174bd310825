-- The store's first report edition (its fit and when it was recorded): what names the feed.
select edition, topic_run_id, recorded_at
from report_editions
order by edition
limit 1;
