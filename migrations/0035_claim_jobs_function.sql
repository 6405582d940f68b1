-- The queue's claim as a function, so that a claim is one round trip. The
-- claim must walk jobs_runnable_idx whatever the table's statistics say (see
-- src/queue/sql/claim-jobs.ts), and said so with `set local` inside its own
-- transaction: BEGIN with the settings, the claim, COMMIT, three round trips
-- between a NOTIFY and the job's start. A function carries the settings
-- itself (they hold while it runs, and only then), so the claim is a single
-- statement, atomic without BEGIN and COMMIT. PL/pgSQL keeps the statement's
-- plan per connection, as the prepared statement did.
create function claim_jobs(
  p_worker_id text,
  p_lease_ms float8,
  p_limit integer,
  p_kinds text[]
)
returns table (
  id text,
  kind text,
  payload jsonb,
  workspace_id text,
  attempts integer,
  max_attempts integer,
  queue_key text,
  weight integer
)
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
as $$
#variable_conflict use_column
begin
  return query
  with due as materialized (
    select j.id, j.locked_until is not null and j.attempts >= j.max_attempts as spent
    from jobs j
    where j.dead_at is null
      and greatest(j.run_at, j.locked_until) <= now()
      and j.kind = any(p_kinds)
    order by greatest(j.run_at, j.locked_until), j.id
    limit p_limit
    for update skip locked
  ),
  buried as (
    update jobs
    set dead_at = now(), locked_by = null, locked_until = null,
      last_error = 'lease expired during the last attempt (the worker stopped or lost the database)'
    where jobs.id = any(array(select due.id from due where due.spent))
  )
  update jobs
  set attempts = jobs.attempts + 1, locked_by = p_worker_id,
    locked_until = now() + p_lease_ms * interval '1 millisecond'
  where jobs.id = any(array(select due.id from due where not due.spent))
  returning jobs.id::text, jobs.kind, jobs.payload, jobs.workspace_id, jobs.attempts,
    jobs.max_attempts, jobs.queue_key, jobs.weight;
end
$$;
