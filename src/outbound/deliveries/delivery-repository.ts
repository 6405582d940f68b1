import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import { eventRecord } from '../events/event-record.js'
import type { DeliveryRecord } from '../send/build-request.js'

/**
 * The records a delivery's request is rendered from: its own (a batch, a
 * notice, an executed rule, a delivery older than migrations/0020), or its
 * event's. Null when neither is there any more (the event was purged).
 */
export async function deliveryRecords(
  db: Db,
  row: Pick<DeliveryRow, 'record' | 'event_id'>,
): Promise<DeliveryRecord | DeliveryRecord[] | null> {
  if (row.record != null) return row.record as DeliveryRecord | DeliveryRecord[]
  if (!row.event_id) return null
  const event = await db
    .selectFrom('events')
    .select(['id', 'type', 'entity_type', 'entity_id', 'fields', 'created_at'])
    .where('id', '=', row.event_id)
    .executeTakeFirst()
  return event ? eventRecord(event) : null
}

export async function findDelivery(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<DeliveryRow | undefined> {
  return db
    .selectFrom('deliveries')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst()
}

/**
 * Takes the batching rules in turn for the rest of the transaction: two calls
 * at once would otherwise both find no open batch and each open one. In id
 * order, so two calls never wait on each other.
 */
export async function lockBatchingRules(db: Db, ruleIds: string[]): Promise<void> {
  for (const id of [...new Set(ruleIds)].sort()) {
    await sql`select pg_advisory_xact_lock(hashtext(${`rule-batch:${id}`}))`.execute(db)
  }
}

/**
 * The open batch of a rule, locked so concurrent events append in turn; the
 * sender closes it (batch_open = false) under the same row lock.
 */
export async function lockOpenBatch(db: Db, ruleId: string): Promise<DeliveryRow | undefined> {
  return db
    .selectFrom('deliveries')
    .selectAll()
    .where('rule_id', '=', ruleId)
    .where('batch_open', '=', true)
    .forUpdate()
    .executeTakeFirst()
}

/**
 * Adds a record to an open batch and files the batch under the record's id
 * (delivery_batch_records), so history finds it by any record it carries.
 * One statement.
 */
export async function appendToBatch(
  db: Db,
  id: string,
  record: { entity_id: string },
): Promise<void> {
  await sql`
    with batch as (
      update deliveries set record = record || ${JSON.stringify([record])}::jsonb,
        updated_at = ${new Date()}
      where id = ${id}
      returning id, workspace_id
    )
    insert into delivery_batch_records (delivery_id, workspace_id, entity_id)
    select id, workspace_id, ${record.entity_id} from batch
    on conflict do nothing`.execute(db)
}

export async function findNewerEventForRecord(
  db: Db,
  workspaceId: string,
  entityType: string,
  entityId: string,
  afterEventId: string,
) {
  return db
    .selectFrom('events')
    .select(['id', 'fields', 'previous'])
    .where('workspace_id', '=', workspaceId)
    .where('entity_type', '=', entityType)
    .where('entity_id', '=', entityId)
    .where('id', '>', afterEventId)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst()
}

/**
 * Locks a delivery that is still open and still names `jobId` (the job that
 * claimed it; null for one sent inline), for the caller's transaction.
 * Answers undefined when it changed meanwhile: cancelled, finished, or taken
 * over by another job, which the caller must then leave alone.
 */
export async function lockOpenUnderJob(
  db: Db,
  deliveryId: string,
  jobId: string | null,
): Promise<{ id: string } | undefined> {
  return db
    .selectFrom('deliveries')
    .select('id')
    .where('id', '=', deliveryId)
    .where('status', 'in', ['queued', 'delivering'])
    .where((eb) => (jobId === null ? eb('job_id', 'is', null) : eb('job_id', '=', Number(jobId))))
    .forUpdate()
    .executeTakeFirst()
}
