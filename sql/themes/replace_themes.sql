-- Replace the theme catalogue with the themes file's (view `incoming_themes`) and clear every
-- verdict; load_paper_themes.sql then loads the new ones. Run inside one transaction.
delete from paper_themes;
delete from themes;
insert into themes by name
select theme_id, name, description, seeds::varchar[] as seeds, keywords::varchar[] as keywords,
       threshold, threshold_strong
from incoming_themes;
