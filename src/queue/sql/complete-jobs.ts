import type pg from 'pg'

/**
 * Deletes jobs that succeeded, in bulk: their outcome lives in the domain
 * tables. No lease check: the job did run, even if its lease had lapsed and
 * another worker took it meanwhile (at-least-once allows the second run).
 * The delete is the function `complete_jobs` (migrations/0042), whose plan
 * is made once per connection, not on nearly every call.
 */
export async function completeJobs(pool: pg.Pool, ids: string[]): Promise<void> {
  await pool.query({
    name: 'hookline_complete_jobs_fn',
    text: 'select complete_jobs($1::bigint[])',
    values: [ids],
  })
}
