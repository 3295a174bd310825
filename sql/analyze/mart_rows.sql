-- Rows of each mart after an analyze run (one row per mart), for the stage's summary line.
select 'corpus_periods' as mart, count(*) as n from corpus_periods
union all select 'topic_shares', count(*) from topic_shares
union all select 'theme_shares', count(*) from theme_shares
union all select 'series_growth', count(*) from series_growth
union all select 'series_status', count(*) from series_status
union all select 'mart_builds', count(*) from mart_builds
