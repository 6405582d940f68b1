import type pg from 'pg'

export interface ClaimedRow {
  id: string
  kind: string
  payload: unknown
  workspace_id: string | null
  attempts: number
  max_attempts: number
  weight: number
  queue_key: string | null
}

/**
 * Claims up to `limit` due jobs in one statement and commits their lease
 * before any handler runs, so no lock or transaction is held while jobs run.
 *
 * - The CTE walks jobs_runnable_idx in its own order up to now(); leased and
 *   future rows sort later and are never visited. SKIP LOCKED lets workers
 *   claim side by side without waiting on each other's rows.
 * - `id = any(array(...))` makes the update a primary-key lookup whatever the
 *   planner guesses for `limit $3` in a generic plan (a join could turn into a
 *   hash join over the whole table).
 * - A job whose lease ran out on its last attempt (its worker died mid-run)
 *   is buried here rather than run again: a job that kills its worker must not
 *   loop forever. (Jobs handed back or cut by a graceful stop have no lease
 *   left, so they do run again.)
 * - Only kinds this worker handles are claimed, so workers with different
 *   handler sets (or versions mid-deploy) can share the table.
 * - The scan is held to jobs_runnable_idx (sequential and bitmap scans off for
 *   this one transaction). The planner picks by the table's statistics, and a
 *   jobs table is often analyzed when nearly empty: a burst that follows (a
 *   batch of events, a mass post) then looks like a few rows, and the claim
 *   became a sequential scan and sort of the whole backlog, every batch —
 *   60 µs of PostgreSQL time per job in bench:deliver, where walking the
 *   index reads only the rows it takes.
 */
const text = `
with due as materialized (
  select id, locked_until is not null and attempts >= max_attempts as spent
  from jobs
  where dead_at is null
    and greatest(run_at, locked_until) <= now()
    and kind = any($4::text[])
  order by greatest(run_at, locked_until), id
  limit $3
  for update skip locked
),
buried as (
  update jobs
  set dead_at = now(), locked_by = null, locked_until = null,
    last_error = 'lease expired during the last attempt (the worker stopped or lost the database)'
  where id = any(array(select id from due where spent))
)
update jobs
set attempts = attempts + 1, locked_by = $1, locked_until = now() + $2 * interval '1 millisecond'
where id = any(array(select id from due where not spent))
returning id::text as id, kind, payload, workspace_id, attempts, max_attempts, queue_key, weight`

export async function claimJobs(
  pool: pg.Pool,
  args: { workerId: string; leaseMs: number; limit: number; kinds: string[] },
): Promise<ClaimedRow[]> {
  const client = await pool.connect()
  try {
    await client.query(INDEX_ONLY)
    const { rows } = await client.query<ClaimedRow>({
      name: 'hookline_claim_jobs',
      text,
      values: [args.workerId, args.leaseMs, args.limit, args.kinds],
    })
    await client.query('commit')
    client.release()
    return rows
  } catch (err) {
    // A connection whose transaction state is unknown is not given back to the pool.
    await client.query('rollback').then(
      () => client.release(),
      () => client.release(true),
    )
    throw err
  }
}

// One round trip: the transaction and its plan settings, sent as one simple query.
const INDEX_ONLY = 'begin; set local enable_seqscan = off; set local enable_bitmapscan = off'
