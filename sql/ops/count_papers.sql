-- How many papers the store holds (one row).
select count(*) from papers
