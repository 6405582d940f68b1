-- Held inbound notices (no CRM callback yet) are parked as a paused
-- workspace's jobs are (0015): run_at = 'infinity', due time in held_run_at.
-- They used to wait at run_at = 9999-01-01; those move to the one mechanism.
update jobs set held_run_at = now(), run_at = 'infinity'
where run_at >= '9999-01-01' and run_at < 'infinity'
  and queue_key is null and held_run_at is null and dead_at is null;
