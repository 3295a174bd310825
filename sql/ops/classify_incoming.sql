-- Classify each incoming paper against the store: new, updated (text, version, an earlier
-- date or a new review decision), or unchanged. One row per incoming paper_id. Casts pin the
-- types of columns that a batch may hold only nulls in.
create or replace temp table incoming_classified as
with i as (
    select
        paper_id::varchar as paper_id, source::varchar as source, title::varchar as title,
        abstract::varchar as abstract, published::date as published,
        date_precision::varchar as date_precision, categories::varchar[] as categories,
        primary_category::varchar as primary_category, venue::varchar as venue,
        authors::varchar as authors, url::varchar as url, version::integer as version,
        content_hash::varchar as content_hash, decision::varchar as decision
    from incoming
)
select
    i.*,
    case
        when p.paper_id is null then 'new'
        when i.version > p.version
          or (i.version = p.version and i.content_hash <> p.content_hash)
          or (i.published is not null and (p.published is null or i.published < p.published))
          or (i.decision is not null and i.decision is distinct from p.decision)
            then 'updated'
        else 'unchanged'
    end as change
from i
left join papers p using (paper_id);
