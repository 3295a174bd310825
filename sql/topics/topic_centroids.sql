-- Centroids of a fit's topics (outliers excluded), topics born in updates included.
select topic_id, centroid from topics where topic_run_id = $topic_run_id and topic_id <> -1
