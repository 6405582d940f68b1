import { type RawBuilder, sql } from 'kysely'
import type pg from 'pg'
import { JOBS_CHANNEL } from './notification.js'

/**
 * Idle workers a writer may lease a job to (migrations/0052): a worker with
 * nothing to do writes its row (WorkerOptions.acceptLeases), keeps
 * `alive_until` a lease ahead while it stays idle, and deletes the row when
 * it stops. A writer that takes the row (`takeIdleWorker`) inserts its job
 * already leased to that worker and sends the job in the notification
 * (`leaseNotification`): the worker runs it with no claim first. The row is
 * gone once taken, so each row carries one lease; the worker writes it again
 * when it is next idle.
 */

/** Writes (or refreshes) this worker's row. */
export async function registerIdle(
  pool: pg.Pool,
  args: { workerId: string; kinds: string[]; leaseMs: number },
): Promise<void> {
  await pool.query({
    name: 'hookline_idle_worker_register',
    text: `insert into idle_workers (worker_id, kinds, lease_ms, alive_until)
      values ($1, $2, $3, now() + $3 * interval '1 millisecond')
      on conflict (worker_id) do update
      set kinds = excluded.kinds, lease_ms = excluded.lease_ms, alive_until = excluded.alive_until`,
    values: [args.workerId, args.kinds, args.leaseMs],
  })
}

/**
 * Pushes this worker's row's `alive_until` a lease ahead. False when the row
 * is gone: a writer took it (its lease is on its way) or the cluster lost it.
 * Never writes the row anew, which would offer a second lease for the first.
 */
export async function refreshIdle(pool: pg.Pool, workerId: string, leaseMs: number) {
  const { rowCount } = await pool.query({
    name: 'hookline_idle_worker_refresh',
    text: `update idle_workers set alive_until = now() + $2 * interval '1 millisecond'
      where worker_id = $1`,
    values: [workerId, leaseMs],
  })
  return (rowCount ?? 0) > 0
}

/** Deletes this worker's row. False when it was gone (see refreshIdle). */
export async function unregisterIdle(pool: pg.Pool, workerId: string): Promise<boolean> {
  const { rowCount } = await pool.query('delete from idle_workers where worker_id = $1', [workerId])
  return (rowCount ?? 0) > 0
}

/**
 * A data-modifying CTE body that takes one live idle worker of `kind`, when
 * `when` holds, and yields its `(worker_id, lease_ms)`: SKIP LOCKED, so
 * concurrent writers take different rows and never wait. `when` may name the
 * row as `w`: a condition that does is evaluated only when a live row is there.
 */
export const takeIdleWorker = (lease: unknown, kind: string, when: RawBuilder<unknown>) => sql`
  delete from idle_workers w
  where w.worker_id = (
      select i.worker_id from idle_workers i
      where ${lease}::boolean and i.alive_until > now() and ${kind}::text = any(i.kinds)
      limit 1 for update skip locked)
    and ${when}
  returning w.worker_id, w.lease_ms`

/**
 * Most bytes of a leased job's document: a notification's payload must stay
 * under 8,000 bytes, and the envelope takes the rest.
 */
export const LEASE_DOCUMENT_MAX = 7_600

/**
 * The notification for one leased job: `lessee` a CTE of `takeIdleWorker`,
 * `document` the job as a claim returns it (ClaimedRow), as JSON text. Only
 * the lessee acts on it; other workers hear `due: 0`.
 */
export const leaseNotification = (document: RawBuilder<unknown>) =>
  sql`(select pg_notify(${sql.lit(JOBS_CHANNEL)}, '{"due":0,"lease":' || to_json(l.worker_id)::text
    || ',"job":' || ${document} || '}') from lessee l)`
