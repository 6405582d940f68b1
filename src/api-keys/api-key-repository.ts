import { sql } from 'kysely'
import type { Db } from '../db/database.js'
import type { ApiKeyRow, NewApiKeyRow } from '../db/tables/api-keys.js'

export async function insertApiKey(db: Db, row: NewApiKeyRow): Promise<ApiKeyRow> {
  return db.insertInto('api_keys').values(row).returningAll().executeTakeFirstOrThrow()
}

export async function listApiKeys(
  db: Db,
  workspaceId: string,
  { limit, before }: { limit: number; before?: string },
): Promise<ApiKeyRow[]> {
  let query = db
    .selectFrom('api_keys')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('id', 'desc')
    .limit(limit)
  if (before) query = query.where('id', '<', before)
  return query.execute()
}

/** Marks a key revoked; revoking twice keeps the first time. */
export async function revokeApiKey(
  db: Db,
  workspaceId: string,
  id: string,
): Promise<ApiKeyRow | undefined> {
  return db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst()
}

/** The live key with this hash and its workspace, or nothing. */
export async function findActiveKeyByHash(
  db: Db,
  keyHash: Buffer,
): Promise<{ id: string; workspace_id: string; last_used_at: Date | null } | undefined> {
  return db
    .selectFrom('api_keys')
    .select(['id', 'workspace_id', 'last_used_at'])
    .where('key_hash', '=', keyHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
}

export async function touchApiKey(db: Db, id: string): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: new Date() }).where('id', '=', id).execute()
}
