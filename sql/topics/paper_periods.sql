-- One row per paper: its source and the period the marts count it in (year for year-precision
-- dates, month otherwise; null when undated). A full fit balances its sample over these.
select paper_id, source, period_start(published, date_precision) as period
from papers
