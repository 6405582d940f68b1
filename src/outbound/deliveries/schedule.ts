import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import type { NewDeliveryRow } from '../../db/tables/deliveries.js'
import { enqueue, notifyWorkers } from '../../queue/enqueue.js'

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
 * Inserts deliveries with the jobs that will send them, in the caller's
 * transaction, so a delivery exists exactly when its job does: one statement
 * for the whole batch. The rows travel as one JSON document expanded by
 * jsonb_to_recordset (record and previous spliced in as the JSON text they
 * already are), so the statement's text is the same for every batch size and
 * has no parameter limit. The jobs go in first, in the order given, and each
 * delivery joins its job by id; like `enqueue`, the statement notifies the
 * workers once.
 */
export async function scheduleDeliveries(db: Db, planned: PlannedDelivery[]): Promise<string[]> {
  if (planned.length === 0) return []
  const document = `[${planned.map(plannedJson).join(',')}]`
  await sql`
    with d as (
      select * from jsonb_to_recordset(${document}::jsonb) as d(
        id text, workspace_id text, rule_id text, kind text, event_id text, event_type text,
        entity_type text, entity_id text, record jsonb, previous jsonb, max_attempts int,
        batch_open boolean, mass_post_id text, run_at float8, n int)
    ),
    jobs as (
      insert into jobs (kind, payload, workspace_id, queue_key, run_at, max_attempts)
      select ${DELIVERY_JOB}, jsonb_build_object('deliveryId', id), workspace_id, rule_id,
        to_timestamp(run_at / 1000.0), ${JOB_MAX_ATTEMPTS}::int
      from d order by n
      returning id, payload ->> 'deliveryId' as delivery_id, run_at
    ),
    inserted as (
      insert into deliveries (id, workspace_id, rule_id, kind, event_id, event_type, entity_type,
        entity_id, status, record, previous, max_attempts, next_attempt_at, job_id, batch_open,
        mass_post_id)
      select d.id, d.workspace_id, d.rule_id, d.kind, d.event_id, d.event_type, d.entity_type,
        d.entity_id, 'queued', d.record, d.previous, d.max_attempts, jobs.run_at, jobs.id,
        coalesce(d.batch_open, false), d.mass_post_id
      from d join jobs on jobs.delivery_id = d.id
      order by d.n
    )
    select ${notifyWorkers}
    from jobs`.execute(db)
  return planned.map((p) => p.row.id)
}

/** One planned delivery as JSON; record and previous are spliced in as JSON text. */
function plannedJson({ row, runAt }: PlannedDelivery, n: number): string {
  const plain = JSON.stringify({
    n,
    id: row.id,
    workspace_id: row.workspace_id,
    rule_id: row.rule_id ?? null,
    kind: row.kind,
    event_id: row.event_id ?? null,
    event_type: row.event_type ?? null,
    entity_type: row.entity_type ?? null,
    entity_id: row.entity_id ?? null,
    max_attempts: row.max_attempts,
    batch_open: row.batch_open ?? false,
    mass_post_id: row.mass_post_id ?? null,
    // Epoch ms: cheaper to send than a date, no time zone to get wrong.
    run_at: runAt.getTime(),
  })
  return `${plain.slice(0, -1)},"record":${row.record ?? 'null'},"previous":${row.previous ?? 'null'}}`
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
