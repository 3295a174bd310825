-- How many papers of the classified batch (ops/classify_incoming) are new, updated or unchanged.
-- One row per change kind present in the batch.
select change, count(*) as n
from incoming_classified
group by change;
