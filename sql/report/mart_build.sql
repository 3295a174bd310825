-- The one row of mart_builds: the fit, as-of date and the rules (decisions counted, windows,
-- minimum support, thin-period rule) the marts were built with; shown on the About page.
select * from mart_builds;
