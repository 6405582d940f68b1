import type { Db } from '../../db/database.js'
import type { NewDeliveryRow } from '../../db/tables/deliveries.js'
import { enqueue } from '../../queue/enqueue.js'
import { insertDeliveries } from './delivery-repository.js'

export const DELIVERY_JOB = 'delivery.send'

/**
 * Job runs allowed per delivery attempt. Delivery retries are counted on the
 * delivery itself; the job's own attempts only cover crashes (a worker killed
 * mid-send), so this bound is about how many crashes to survive.
 */
const JOB_MAX_ATTEMPTS = 5

export interface PlannedDelivery {
  row: Omit<NewDeliveryRow, 'job_id' | 'next_attempt_at' | 'status'>
  runAt: Date
}

/**
 * Inserts deliveries with the jobs that will send them: one multi-row INSERT
 * each, in the caller's transaction, so a delivery exists exactly when its job does.
 */
export async function scheduleDeliveries(db: Db, planned: PlannedDelivery[]): Promise<string[]> {
  if (planned.length === 0) return []
  const jobIds = await enqueue(
    db,
    planned.map(({ row, runAt }) => ({
      kind: DELIVERY_JOB,
      payload: { deliveryId: row.id },
      workspaceId: row.workspace_id,
      runAt,
      maxAttempts: JOB_MAX_ATTEMPTS,
      queueKey: row.rule_id ?? null,
    })),
  )
  await insertDeliveries(
    db,
    planned.map(({ row, runAt }, i) => ({
      ...row,
      status: 'queued' as const,
      job_id: jobIds[i] ?? null,
      next_attempt_at: runAt,
    })),
  )
  return planned.map((p) => p.row.id)
}

/** A new job for an existing delivery's next attempt (retry, resend, deferral). */
export async function rescheduleDelivery(
  db: Db,
  delivery: { id: string; workspace_id: string; rule_id: string | null },
  runAt: Date,
): Promise<void> {
  const [jobId] = await enqueue(db, [
    {
      kind: DELIVERY_JOB,
      payload: { deliveryId: delivery.id },
      workspaceId: delivery.workspace_id,
      runAt,
      maxAttempts: JOB_MAX_ATTEMPTS,
      queueKey: delivery.rule_id,
    },
  ])
  await db
    .updateTable('deliveries')
    .set({
      job_id: jobId ?? null,
      next_attempt_at: runAt,
      status: 'queued',
      updated_at: new Date(),
    })
    .where('id', '=', delivery.id)
    .execute()
}

/**
 * Puts a queued delivery's attempt off (its rule or workspace is at its cap)
 * with a new job, unless it changed since `jobId` started: a delivery
 * cancelled meanwhile must stay cancelled. Answers whether it was put off.
 * A `delivering` one is put off too: an earlier run of this same job died
 * mid-attempt (worker killed, database cut), and nothing else will send it.
 */
export async function deferDelivery(
  db: Db,
  delivery: { id: string; workspace_id: string; rule_id: string | null },
  jobId: string,
  runAt: Date,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const current = await trx
      .selectFrom('deliveries')
      .select('id')
      .where('id', '=', delivery.id)
      .where('status', 'in', ['queued', 'delivering'])
      .where('job_id', '=', Number(jobId))
      .forUpdate()
      .executeTakeFirst()
    if (!current) return false
    await rescheduleDelivery(trx, delivery, runAt)
    return true
  })
}
