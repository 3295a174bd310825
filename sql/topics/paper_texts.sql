-- One row per paper: the text topics are built from (title, then abstract). No order: callers
-- look texts up by paper_id, and streaming without an order keeps memory bounded.
select paper_id, title || '. ' || abstract as text from papers
