-- The highest stable topic number ever given (T0001 -> 1); stable ids are never reused.
select max(cast(substr(stable_id, 2) as integer)) from topics where stable_id like 'T%'
