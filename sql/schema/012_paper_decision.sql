-- Review outcome of a paper, and the periods every grain of the marts is built from.

-- papers.decision: 'accepted' | 'rejected' | NULL (no review outcome: arXiv, or a submission
-- still under review). Mapped at ingest from a `decision` or `status` column
-- (pipeline/records.py:decision_of, the same rule as the macro below).
alter table papers add column if not exists decision varchar;

-- The review outcome a status names: anything that says reject or withdraw (Reject, Desk
-- Reject, Withdraw, Withdrawn) is 'rejected'; a status of a paper still in review (Active,
-- Pending, Submitted, Under Review) or no status is NULL; any other status is the track an
-- accepted paper was presented in (Poster, Oral, Spotlight, Main, Findings, Workshop, ...).
create or replace macro decision_of(status) as
    case
        when status is null or trim(status) = '' then null
        when lower(status) like '%reject%' or lower(status) like '%withdraw%' then 'rejected'
        when lower(trim(status)) in ('active', 'pending', 'submitted', 'under review',
                                     'under_review') then null
        else 'accepted'
    end;

-- Papers stored before this migration: their outcome from the latest record received for
-- them, whose lossless payload holds the source's own columns.
update papers
set decision = b.decision
from (
    select record_key as paper_id,
           arg_max(decision_of(coalesce(json_extract_string(payload, '$.decision'),
                                        json_extract_string(payload, '$.status'))),
                   received_at) as decision
    from raw_records
    where (payload like '%"status"%' or payload like '%"decision"%')
      and json_valid(payload)
    group by record_key
) b
where papers.paper_id = b.paper_id
  and b.decision is not null;

-- Grains of the marts: a paper with a day or month date is in a month, a quarter and a year;
-- a paper with a year date only in a year (the grain its precision allows).
create or replace macro period_grains(date_precision) as
    case when date_precision = 'year' then ['year']
         when date_precision in ('day', 'month') then ['month', 'quarter', 'year']
         else []::varchar[] end;

-- First day of the period of `grain` ('month', 'quarter', 'year') holding the date.
create or replace macro grain_start(published, grain) as
    date_trunc(grain, published)::date;

-- Last day of the period of `grain` that starts on `period_start`.
create or replace macro grain_end(period_start, grain) as
    (period_start + case grain when 'year' then interval 1 year
                               when 'quarter' then interval 3 month
                               else interval 1 month end - interval 1 day)::date;

-- Last day a date of that precision stands for (a year date covers its whole year).
create or replace macro precision_end(published, date_precision) as
    case date_precision
        when 'year' then grain_end(date_trunc('year', published)::date, 'year')
        when 'month' then grain_end(date_trunc('month', published)::date, 'month')
        else published end;
