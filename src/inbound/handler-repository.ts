import { sql } from 'kysely'
import type { Db } from '../db/database.js'
import type { HandlerRow, HandlerUpdate, NewHandlerRow } from '../db/tables/handlers.js'
import type { CallOutcome } from '../schemas/calls.js'

export async function insertHandler(db: Db, row: NewHandlerRow): Promise<HandlerRow> {
  return db.insertInto('handlers').values(row).returningAll().executeTakeFirstOrThrow()
}

export async function findHandler(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<HandlerRow | undefined> {
  return db
    .selectFrom('handlers')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst()
}

export async function updateHandler(
  db: Db,
  workspaceId: string,
  id: string,
  patch: HandlerUpdate,
): Promise<HandlerRow | undefined> {
  return db
    .updateTable('handlers')
    .set({ ...patch, updated_at: new Date() })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst()
}

export async function deleteHandler(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('handlers')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst()
  return result.numDeletedRows > 0n
}

/** Newest first; `before` is the last id of the previous page. */
export async function listHandlers(
  db: Db,
  workspaceId: string,
  filter: { limit: number; before?: string; q?: string; active?: boolean },
): Promise<HandlerRow[]> {
  let query = db
    .selectFrom('handlers')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('id', 'desc')
    .limit(filter.limit)
  if (filter.before) query = query.where('id', '<', filter.before)
  if (filter.active !== undefined) query = query.where('active', '=', filter.active)
  if (filter.q) {
    const pattern = `%${filter.q.replace(/[\\%_]/g, '\\$&')}%`
    query = query.where((eb) =>
      eb.or([eb('title', 'ilike', pattern), eb('description', 'ilike', pattern)]),
    )
  }
  return query.execute()
}

/** The public endpoint's lookup: many tokens in one query (see handler-cache.ts). */
export async function findHandlersByTokenHash(db: Db, hashes: Buffer[]): Promise<HandlerRow[]> {
  return db.selectFrom('handlers').selectAll().where('token_hash', 'in', hashes).execute()
}

export type OutcomeCounts = Record<Exclude<CallOutcome, 'received'>, number> & { total: number }

/** Calls per handler with ids in [fromId, toId): one index range scan per handler. */
export async function countCalls(
  db: Db,
  handlerIds: string[],
  fromId: string,
  toId: string,
): Promise<Map<string, OutcomeCounts>> {
  if (handlerIds.length === 0) return new Map()
  const count = (outcome: string) => sql<number>`count(*) filter (where outcome = ${outcome})`
  const rows = await db
    .selectFrom('inbound_calls')
    .select((eb) => [
      'handler_id',
      eb.fn.countAll<number>().as('total'),
      count('accepted').as('accepted'),
      count('duplicate').as('duplicate'),
      count('filtered').as('filtered'),
      count('inactive').as('inactive'),
      count('rejected').as('rejected'),
      count('invalid').as('invalid'),
      count('error').as('error'),
    ])
    .where('handler_id', 'in', handlerIds)
    .where('id', '>=', fromId)
    .where('id', '<', toId)
    .groupBy('handler_id')
    .execute()
  return new Map(rows.map(({ handler_id, ...counts }) => [handler_id, counts]))
}
