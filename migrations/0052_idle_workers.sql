-- Idle workers a lone event's write may lease its job to (src/queue/idle-workers.ts,
-- src/outbound/events/ingest-together.ts). A worker with nothing to do writes
-- its row, refreshes `alive_until` while it stays idle and deletes it when it
-- stops; the API's statement that writes a lone event takes one live row
-- (FOR UPDATE SKIP LOCKED, then deletes it), leases the job to that worker
-- and sends the job with what its attempt reads in the NOTIFY, so the worker
-- sends with no claim first. A job leased to a worker that then died runs
-- again once its lease lapses, as any crashed worker's job.
--
-- Unlogged: a row says only that a process is waiting now. After a crash of
-- the cluster the table is empty and workers write their rows again; no WAL
-- is written for the row the API takes and the worker puts back per event.
create unlogged table idle_workers (
  worker_id text primary key,
  kinds text[] not null,
  lease_ms float8 not null,
  alive_until timestamptz not null
);
