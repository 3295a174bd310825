-- Land the batch's raw payloads and rejections; each distinct payload is stored once per source.
insert into raw_records (source, payload_hash, record_key, payload, first_run_id, received_at)
select source, payload_hash, record_key, payload, $run_id, $now from incoming_raw
on conflict do nothing;

insert into rejected_records (source, payload_hash, record_key, reason, detail, run_id, rejected_at)
select source, payload_hash, record_key, reason, detail, $run_id, $now from incoming_rejected
on conflict do nothing;
