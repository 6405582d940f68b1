import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import type { DeliveryRow, DeliveryStatus, NewDeliveryRow } from '../../db/tables/deliveries.js'

export async function insertDeliveries(db: Db, rows: NewDeliveryRow[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('deliveries').values(rows).execute()
}

export async function findDelivery(db: Db, workspaceId: string, id: string): Promise<DeliveryRow | undefined> {
  return db
    .selectFrom('deliveries')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst()
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

export async function appendToBatch(db: Db, id: string, record: unknown): Promise<void> {
  await db
    .updateTable('deliveries')
    .set({
      record: sql`record || ${JSON.stringify([record])}::jsonb`,
      updated_at: new Date(),
    })
    .where('id', '=', id)
    .execute()
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
