-- The job queue (src/queue): every outbound delivery, retry, delay, inbound
-- forward, mass post and purge is a row here. A row lives from enqueue until
-- it succeeds (then it is deleted: outcomes live in the domain tables) or dies
-- (kept with dead_at and last_error, for inspection).

create table jobs (
  id           bigint generated always as identity primary key,
  kind         text not null,
  payload      jsonb not null default 'null',
  -- No foreign key: its check would look up (and key-share lock) the
  -- workspace row for every inserted job, which a mass post pays 100,000
  -- times. A job whose workspace is gone finds out in its handler and ends.
  workspace_id text,
  -- Optional grouping key (e.g. a rule id) so a caller can find or cancel a group's jobs.
  queue_key    text,
  run_at       timestamptz not null default now(),
  -- Runs started so far, the current one included; a claim adds one.
  attempts     integer not null default 0,
  max_attempts integer not null default 3 check (max_attempts >= 1),
  -- The lease: which worker holds the job, and until when. A worker renews it
  -- while the job runs; once it passes (the worker died), any worker may claim
  -- the job again. Nothing has to sweep stale locks.
  locked_by    text,
  locked_until timestamptz,
  last_error   text,
  created_at   timestamptz not null default now(),
  dead_at      timestamptz
) with (
  -- Claims, retries and lease renewals rewrite rows; free space on the page
  -- lets each new row version land beside the old one, where page pruning
  -- reclaims the old version without waiting for vacuum.
  fillfactor = 70,
  -- Rows are short-lived, so dead rows pile up fast: vacuum after 10,000 of
  -- them plus 1% of the table, not the default 20% (with a million delayed
  -- jobs waiting, that would be 200,000 dead rows in the claim's way). Not
  -- lower: each vacuum also reads the whole of both indexes. The default cost
  -- delay stays: at full speed, vacuum took a third of the throughput of a
  -- two-core host from the workers.
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 10000,
  autovacuum_analyze_scale_factor = 0.05,
  autovacuum_analyze_threshold = 10000
);

-- The claim's index: live (not dead) rows in the claim's order. A row is
-- runnable from greatest(run_at, locked_until) on (greatest ignores the null
-- of an unleased row), so the claim's range scan up to now() meets only rows
-- it can take: due and unleased, or due with an expired lease. Future-dated
-- and leased rows sort after now() and cost the claim nothing, however many.
create index jobs_runnable_idx on jobs ((greatest(run_at, locked_until)), id)
  where dead_at is null;

create index jobs_queue_key_idx on jobs (queue_key) where queue_key is not null;
