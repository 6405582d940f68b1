import { createHash, hash } from 'node:crypto'
import type { Db } from '../db/database.js'
import type { ApiKeyRow } from '../db/tables/api-keys.js'
import { errors } from '../errors.js'
import { decodeCursor, toPage } from '../http/pagination.js'
import { newId, randomToken } from '../ids.js'
import type { ApiKey, IssuedApiKey } from '../schemas/api-keys.js'
import { findWorkspace } from '../workspaces/workspace-repository.js'
import * as repo from './api-key-repository.js'

// last_used_at is a hint for humans, not an audit log: write it at most once
// a minute per key so authentication stays a single read on the hot path.
const TOUCH_INTERVAL_MS = 60_000

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest()
}

/** The same hash as hex, in one call (no Hash object): the per-request cache's key. */
export function hashApiKeyHex(key: string): string {
  return hash('sha256', key, 'hex')
}

export function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    workspace_id: row.workspace_id,
    name: row.name,
    prefix: row.prefix,
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
  }
}

/** Issues a key `hl_<8 hex>_<32 chars>`; the whole key is returned this once only. */
export async function issueApiKey(
  db: Db,
  workspaceId: string,
  name: string,
): Promise<IssuedApiKey> {
  if (!(await findWorkspace(db, workspaceId))) throw errors.notFound('workspace', workspaceId)
  const prefix = `hl_${randomToken(6).replace(/[-_]/g, '').slice(0, 8).toLowerCase().padEnd(8, '0')}`
  const key = `${prefix}_${randomToken(24)}`
  const row = await repo.insertApiKey(db, {
    id: newId('key'),
    workspace_id: workspaceId,
    name,
    prefix,
    key_hash: hashApiKey(key),
  })
  return { ...toApiKey(row), key }
}

export async function listApiKeys(
  db: Db,
  workspaceId: string,
  query: { limit: number; cursor?: string },
) {
  if (!(await findWorkspace(db, workspaceId))) throw errors.notFound('workspace', workspaceId)
  const before = query.cursor ? String(decodeCursor(query.cursor, 1)[0]) : undefined
  const rows = await repo.listApiKeys(db, workspaceId, { limit: query.limit + 1, before })
  const { rows: pageRows, next_cursor } = toPage(rows, query.limit, (r) => [r.id])
  return { data: pageRows.map(toApiKey), next_cursor }
}

export async function revokeApiKey(db: Db, workspaceId: string, id: string): Promise<ApiKey> {
  const row = await repo.revokeApiKey(db, workspaceId, id)
  if (!row) throw errors.notFound('API key', id)
  return toApiKey(row)
}

/** The workspace id a presented key belongs to, or undefined for unknown and revoked keys. */
export async function authenticateApiKey(db: Db, key: string): Promise<string | undefined> {
  const found = await repo.findActiveKeyByHash(db, hashApiKey(key))
  if (!found) return undefined
  if (!found.last_used_at || Date.now() - found.last_used_at.getTime() > TOUCH_INTERVAL_MS) {
    await repo.touchApiKey(db, found.id)
  }
  return found.workspace_id
}
