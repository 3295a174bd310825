-- Load the verdicts of every (theme, paper) from the scoring spool file ($path, Parquet with the
-- columns of paper_themes). DuckDB's own Parquet reader: a registered pyarrow dataset read
-- ahead of the insert and took 1.5 GB for 10M scores at a million papers.
insert into paper_themes by name select * from read_parquet($path)
