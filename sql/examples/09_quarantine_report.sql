-- Data quality: why records were quarantined, per source, and what each ingest run received.
select r.source, r.reason, count(*) as records, any_value(r.detail) as example
from rejected_records r
group by all
order by records desc;
