-- Upsert the prepared batch (view `incoming`, one row per paper_id) into `papers`.
-- Rule: the highest version's text wins (ties: the incoming text, so an edited re-send lands);
-- the earliest known date wins; unchanged rows are left untouched.
insert into papers (
    paper_id, source, title, abstract, published, date_precision, categories, primary_category,
    venue, authors, url, version, content_hash, decision, first_run_id, last_run_id, ingested_at, updated_at
)
select
    i.paper_id, i.source, i.title, i.abstract, i.published, i.date_precision, i.categories,
    i.primary_category, i.venue, i.authors, i.url, i.version, i.content_hash, i.decision,
    $run_id, $run_id, $now, $now
from incoming_classified i
where i.change in ('new', 'updated')
on conflict (paper_id) do update set
    title            = case when excluded.version >= papers.version then excluded.title else papers.title end,
    abstract         = case when excluded.version >= papers.version then excluded.abstract else papers.abstract end,
    content_hash     = case when excluded.version >= papers.version then excluded.content_hash else papers.content_hash end,
    categories       = case when excluded.version >= papers.version then coalesce(excluded.categories, papers.categories) else papers.categories end,
    authors          = case when excluded.version >= papers.version then coalesce(excluded.authors, papers.authors) else papers.authors end,
    version          = greatest(excluded.version, papers.version),
    published        = coalesce(least(excluded.published, papers.published), papers.published, excluded.published),
    date_precision   = case when papers.published is null then excluded.date_precision else papers.date_precision end,
    primary_category = coalesce(papers.primary_category, excluded.primary_category),
    venue            = coalesce(papers.venue, excluded.venue),
    url              = coalesce(papers.url, excluded.url),
    decision         = coalesce(excluded.decision, papers.decision),
    last_run_id      = excluded.last_run_id,
    updated_at       = excluded.updated_at;
