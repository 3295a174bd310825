-- One row per paper of a fit: its topic and how it got there.
select paper_id, topic_id, method from paper_topics where topic_run_id = $topic_run_id
