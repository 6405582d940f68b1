import type pg from 'pg'

export interface Failure {
  id: string
  error: string
  /** Ignored when `dead`. */
  delayMs: number
  /** Attempts spent, or the handler said retrying cannot help. */
  dead: boolean
  /** The run is not counted as an attempt and leaves no error (a job put off, PutOffJobError). */
  uncounted?: boolean
}

/**
 * Records failed attempts in bulk: the retry time (or dead_at) and the error,
 * and gives up the lease. Only rows this worker still holds are touched: if
 * the lease lapsed and another worker claimed the job, that run decides.
 * The delay comes from TypeScript (backoff.ts, or the handler's Retry-After).
 * A job put off (`uncounted`) gets its attempt back and keeps its last error.
 */
const text = `
update jobs
set last_error = case when f.uncounted then jobs.last_error else f.error end,
  attempts = case when f.uncounted then greatest(jobs.attempts - 1, 0) else jobs.attempts end,
  run_at = case when f.dead then jobs.run_at else now() + f.delay_ms * interval '1 millisecond' end,
  dead_at = case when f.dead then now() end,
  locked_by = null,
  locked_until = null
from unnest($2::bigint[], $3::text[], $4::float8[], $5::boolean[], $6::boolean[])
  as f(id, error, delay_ms, dead, uncounted)
where jobs.id = any($2::bigint[]) and jobs.id = f.id and jobs.locked_by = $1`

export async function failJobs(pool: pg.Pool, workerId: string, failures: Failure[]) {
  await pool.query({
    name: 'hookline_fail_jobs',
    text,
    values: [
      workerId,
      failures.map((f) => f.id),
      failures.map((f) => f.error),
      failures.map((f) => f.delayMs),
      failures.map((f) => f.dead),
      failures.map((f) => f.uncounted === true),
    ],
  })
}
