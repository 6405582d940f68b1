import { sql } from 'kysely'
import type { Db } from '../db/database.js'
import type { EventTypeRow } from '../db/tables/event-types.js'
import { errors } from '../errors.js'
import { decodeCursor, toPage } from '../http/pagination.js'
import type { EventType, Field, UpsertEventTypeBody } from '../schemas/catalog.js'

export function toEventType(row: EventTypeRow): EventType {
  return {
    name: row.name,
    description: row.description,
    schema: row.schema,
    sample: row.sample,
    archived: row.archived,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}

/** Creates or replaces the named event type; answers whether it was new. */
export async function upsertEventType(
  db: Db,
  workspaceId: string,
  name: string,
  body: UpsertEventTypeBody,
): Promise<{ eventType: EventType; created: boolean }> {
  const values = {
    description: body.description ?? '',
    schema: json(body.schema),
    sample: json(body.sample),
    archived: body.archived ?? false,
  }
  const row = await db
    .insertInto('event_types')
    .values({ workspace_id: workspaceId, name, ...values })
    .onConflict((oc) =>
      oc.columns(['workspace_id', 'name']).doUpdateSet({ ...values, updated_at: new Date() }),
    )
    .returningAll()
    // xmax is 0 only on a freshly inserted row version: "was this an insert?"
    .returning(sql<boolean>`(xmax = 0)`.as('inserted'))
    .executeTakeFirstOrThrow()
  return { eventType: toEventType(row), created: row.inserted }
}

export async function getEventType(db: Db, workspaceId: string, name: string): Promise<EventType> {
  const row = await db
    .selectFrom('event_types')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .executeTakeFirst()
  if (!row) throw errors.notFound('event type', name)
  return toEventType(row)
}

export async function listEventTypes(
  db: Db,
  workspaceId: string,
  query: { limit: number; cursor?: string; include_archived?: boolean },
) {
  let q = db
    .selectFrom('event_types')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('name')
    .limit(query.limit + 1)
  if (!query.include_archived) q = q.where('archived', '=', false)
  if (query.cursor) q = q.where('name', '>', String(decodeCursor(query.cursor, 1)[0]))
  const { rows, next_cursor } = toPage(await q.execute(), query.limit, (r) => [r.name])
  return { data: rows.map(toEventType), next_cursor }
}

export async function deleteEventType(db: Db, workspaceId: string, name: string): Promise<void> {
  const result = await db
    .deleteFrom('event_types')
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .executeTakeFirst()
  if (result.numDeletedRows === 0n) throw errors.notFound('event type', name)
}

export async function listFields(db: Db, workspaceId: string): Promise<Field[]> {
  const rows = await db
    .selectFrom('fields')
    .select(['key', 'label', 'type', 'entity'])
    .where('workspace_id', '=', workspaceId)
    .orderBy('key')
    .execute()
  return rows as Field[]
}

/** Replaces the whole field catalog in one transaction. */
export async function replaceFields(
  db: Db,
  workspaceId: string,
  fields: Field[],
): Promise<Field[]> {
  const keys = new Set<string>()
  for (const [i, field] of fields.entries()) {
    if (keys.has(field.key))
      throw errors.validation(`body/data/${i}/key: "${field.key}" appears twice`)
    keys.add(field.key)
  }
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('fields').where('workspace_id', '=', workspaceId).execute()
    if (fields.length > 0) {
      await trx
        .insertInto('fields')
        .values(fields.map((f) => ({ workspace_id: workspaceId, ...f })))
        .execute()
    }
  })
  return listFields(db, workspaceId)
}

/**
 * Catalog check used when rules and handlers are saved: when a catalog is
 * defined, every event type and field they name must be in it. Returns one
 * message per unknown name; an empty catalog checks nothing.
 */
export async function unknownCatalogNames(
  db: Db,
  workspaceId: string,
  names: { eventTypes?: string[]; fields?: string[] },
): Promise<string[]> {
  const problems: string[] = []
  if (names.eventTypes?.length) {
    const known = await db
      .selectFrom('event_types')
      .select('name')
      .where('workspace_id', '=', workspaceId)
      .where('archived', '=', false)
      .execute()
    if (known.length > 0) {
      const set = new Set(known.map((k) => k.name))
      for (const name of names.eventTypes)
        if (!set.has(name)) problems.push(`unknown event type "${name}"`)
    }
  }
  if (names.fields?.length) {
    const known = await db
      .selectFrom('fields')
      .select('key')
      .where('workspace_id', '=', workspaceId)
      .execute()
    if (known.length > 0) {
      const set = new Set(known.map((k) => k.key))
      for (const name of new Set(names.fields)) {
        if (!isKnownField(set, name)) problems.push(`unknown field "${name}"`)
      }
    }
  }
  return problems
}

// `lead.address.city` is known when `lead.address` is (an object field), and
// `lead.tags.0` when `lead.tags` is; template-only names (`event.*`, `record.*`) always are.
function isKnownField(known: Set<string>, name: string): boolean {
  if (/^(event|record)\./.test(name)) return true
  const parts = name.replace(/\[(\d+)\]/g, '.$1').split('.')
  for (let i = parts.length; i > 0; i--) if (known.has(parts.slice(0, i).join('.'))) return true
  return false
}

// pg would send a JS array as a Postgres array; JSON text is right for jsonb whatever the value.
function json(value: unknown): string | null {
  return value == null ? null : JSON.stringify(value)
}
