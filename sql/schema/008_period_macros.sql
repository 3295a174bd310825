-- Periods of a paper's date, shared by every mart (and usable by analysts): months for day- or
-- month-precision dates, years for year-precision dates.
create or replace macro period_grain(date_precision) as
    case when date_precision = 'year' then 'year' else 'month' end;

create or replace macro period_start(published, date_precision) as
    (case when date_precision = 'year' then date_trunc('year', published)
          else date_trunc('month', published) end)::date;
