import type pg from 'pg'
import type { IdleClaim } from '../types.js'

export interface ClaimedRow {
  id: string
  kind: string
  payload: unknown
  workspace_id: string | null
  attempts: number
  max_attempts: number
  weight: number
  queue_key: string | null
  /** What an idle claim read beside the job (WorkerOptions.idleClaim). */
  claim_read?: unknown
}

/**
 * Claims up to `limit` due jobs in one statement and commits their lease
 * before any handler runs, so no lock or transaction is held while jobs run.
 * The statement is the function `claim_jobs` (migrations/0035), one round
 * trip, atomic without BEGIN and COMMIT:
 *
 * - Its CTE walks jobs_runnable_idx in its own order up to now(); leased and
 *   future rows sort later and are never visited. SKIP LOCKED lets workers
 *   claim side by side without waiting on each other's rows.
 * - `id = any(array(...))` makes the update a primary-key lookup whatever the
 *   planner guesses for the limit in a generic plan (a join could turn into a
 *   hash join over the whole table).
 * - A job whose lease ran out on its last attempt (its worker died mid-run)
 *   is buried here rather than run again: a job that kills its worker must not
 *   loop forever. (Jobs handed back or cut by a graceful stop have no lease
 *   left, so they do run again.)
 * - Only kinds this worker handles are claimed, so workers with different
 *   handler sets (or versions mid-deploy) can share the table.
 * - The scan is held to jobs_runnable_idx (the function turns sequential and
 *   bitmap scans off while it runs). The planner picks by the table's
 *   statistics, and a jobs table is often analyzed when nearly empty: a burst
 *   that follows (a batch of events, a mass post) then looks like a few rows,
 *   and the claim became a sequential scan and sort of the whole backlog,
 *   every batch — 60 µs of PostgreSQL time per job in bench:deliver, where
 *   walking the index reads only the rows it takes. The settings used to be
 *   `set local` in a transaction of their own: BEGIN, the claim and COMMIT
 *   were three round trips between a NOTIFY and the job's start.
 */
export async function claimJobs(
  pool: pg.Pool | pg.Client,
  args: {
    workerId: string
    leaseMs: number
    limit: number
    kinds: string[]
    /** The span of ids announced, for a statement that takes it (IdleClaim.announced). */
    announced?: { from: string; to: string } | undefined
  },
  statement: IdleClaim = PLAIN_CLAIM,
): Promise<ClaimedRow[]> {
  const values: unknown[] = [args.workerId, args.leaseMs, args.limit, args.kinds]
  if (statement.announced) values.push(args.announced?.from ?? null, args.announced?.to ?? null)
  const { rows } = await pool.query<ClaimedRow>({
    name: statement.name,
    text: statement.text,
    values,
  })
  return rows
}

const PLAIN_CLAIM: IdleClaim = {
  name: 'hookline_claim_jobs_fn',
  text: 'select * from claim_jobs($1, $2, $3, $4)',
}
