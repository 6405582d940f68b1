import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import { notifyWorkers } from '../../queue/enqueue.js'
import { lockOpenUnderJob } from './delivery-repository.js'
import { parkJob } from './pause.js'
import { jobDeliveryIds, rescheduleDelivery } from './schedule.js'

export const WAITING_FOR_CALLBACK =
  'waiting: no CRM callback URL is set; it is sent once one is (PATCH /v1/settings)'

/**
 * Holds an `inbound.record` notice whose workspace has no CRM callback: it
 * stays queued, its attempts untouched, with a job parked as a paused
 * workspace's are (`parkJob`: live, so the reconcile leaves its delivery
 * alone, but out of every claim's reach) until a callback is set
 * (`releaseHeldNotices`). The workspace row is read with a
 * share lock, so a callback being set meanwhile is either seen here (the
 * notice goes now) or sets after this commits (and its release finds this
 * job). A delivery changed since `jobId` claimed it is left alone.
 */
export async function holdNotice(
  db: Db,
  delivery: DeliveryRow,
  jobId: string | null,
): Promise<DeliveryRow | undefined> {
  return db.transaction().execute(async (trx) => {
    const workspace = await trx
      .selectFrom('workspaces')
      .select('crm_callback_url')
      .where('id', '=', delivery.workspace_id)
      .forShare()
      .executeTakeFirst()
    const current = await lockOpenUnderJob(trx, delivery.id, jobId)
    if (!current) return undefined
    const callbackSet = Boolean(workspace?.crm_callback_url)
    const job = await rescheduleDelivery(trx, delivery, new Date())
    if (!callbackSet) await parkJob(trx, job)
    return trx
      .updateTable('deliveries')
      .set({
        batch_open: false,
        last_error: callbackSet ? null : WAITING_FOR_CALLBACK,
        next_attempt_at: callbackSet ? new Date() : null,
      })
      .where('id', '=', delivery.id)
      .returningAll()
      .executeTakeFirst()
  })
}

/**
 * Sends a workspace's held notices now: called in the transaction that sets
 * its CRM callback. Its parked jobs without a rule (`queue_key`) are the held
 * notices; a paused workspace's parked jobs are rule deliveries, and stay.
 * Answers how many jobs were released.
 */
export async function releaseHeldNotices(db: Db, workspaceId: string): Promise<number> {
  const { rows } = await sql<{ released: number }>`
    with released as (
      update jobs set run_at = now(), held_run_at = null
      where workspace_id = ${workspaceId} and held_run_at is not null
        and queue_key is null and dead_at is null
      returning id, run_at, payload
    ),
    shown as (
      update deliveries d set next_attempt_at = now(), last_error = null, updated_at = now()
      from released r cross join lateral ${jobDeliveryIds('r')} as m(id)
      where d.id = m.id and d.job_id = r.id and d.status = 'queued'
    )
    select count(*)::int as released, ${notifyWorkers} from released`.execute(db)
  return rows[0]?.released ?? 0
}
