import type pg from 'pg'

/**
 * How long until the first live job of these kinds is runnable: a future
 * run_at, or another worker's lease running out (zero or less: runnable
 * already). One step into jobs_runnable_idx. The worker sets a timer for it,
 * so delayed jobs and dead workers' jobs run on time rather than at the next
 * poll. Measured on the database's clock and returned as a delay, so clock
 * skew between hosts does not matter.
 *
 * A job parked at run_at = 'infinity' (a paused workspace's, see
 * migrations/0015_paused_jobs.sql) is no next run: the range ends before them.
 *
 * No `> now()` filter: a job that becomes due between the worker's empty
 * claim and this query would then be skipped, and wait for the poll.
 */
export async function msUntilNextRun(pool: pg.Pool, kinds: string[]): Promise<number | null> {
  const { rows } = await pool.query<{ ms: number }>({
    name: 'hookline_next_run',
    text: `select (extract(epoch from greatest(run_at, locked_until) - now()) * 1000)::float8 as ms
      from jobs
      where dead_at is null and kind = any($1::text[])
        and greatest(run_at, locked_until) < 'infinity'
      order by greatest(run_at, locked_until), id
      limit 1`,
    values: [kinds],
  })
  return rows[0]?.ms ?? null
}
