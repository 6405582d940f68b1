-- `Idempotency-Key` on the API's creating POSTs (src/http/idempotency.ts):
-- the first answer to a key, replayed when the same request comes again.
-- `scope` is the workspace (or `operator`), so keys never meet across
-- tenants. A row without `status_code` is a request still being answered.
-- Rows live 24 hours; the hourly purge deletes older ones.
create table idempotency_keys (
  scope text not null,
  key text not null,
  request_hash text not null,
  status_code integer,
  body text,
  created_at timestamptz not null default now(),
  primary key (scope, key)
);
create index idempotency_keys_created_at on idempotency_keys (created_at);
