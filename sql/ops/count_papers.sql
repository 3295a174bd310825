-- How many papers the store holds. One row.
select count(*) as n
from papers;
