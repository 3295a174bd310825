-- Every series (topic or theme, per source and grain) in both report edition $edition and the
-- edition before it, $previous_edition: one row per (kind, source, period_grain, series_key)
-- with its status and recent share in each. Series in only one of them are left out (a topic
-- born or ended is a lineage event, not a status change).
select c.kind, c.source, c.period_grain, c.series_key, c.series_id, c.label,
       p.label as previous_label, c.status, p.status as previous_status,
       c.papers, p.papers as previous_papers, c.recent_share, p.recent_share as previous_recent_share
from edition_statuses c
join edition_statuses p
  on p.edition = $previous_edition and p.kind = c.kind and p.source = c.source
 and p.period_grain = c.period_grain and p.series_key = c.series_key
where c.edition = $edition
order by c.kind desc, c.source, c.period_grain, c.series_key;
