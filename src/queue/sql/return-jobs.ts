import type pg from 'pg'
import { JOBS_CHANNEL } from '../notification.js'

/**
 * Hands back jobs this worker claimed but never started (graceful stop):
 * clears the lease and undoes the claim's attempt, so the jobs are due again
 * at once, and notifies so a sleeping worker takes them now, not at its poll.
 */
const text = `
with returned as (
  update jobs
  set attempts = greatest(attempts - 1, 0), locked_by = null, locked_until = null
  where id = any($2::bigint[]) and locked_by = $1
  returning id
)
select count(*)::int as count,
  pg_notify('${JOBS_CHANNEL}', json_build_object('due', count(*), 'id', min(id))::text)
from returned
having count(*) > 0`

export async function returnJobs(pool: pg.Pool, workerId: string, ids: string[]): Promise<number> {
  const { rows } = await pool.query<{ count: number }>(text, [workerId, ids])
  return rows[0]?.count ?? 0
}
