import type { Db } from '../db/database.js'
import type { WorkspaceRow } from '../db/tables/workspaces.js'
import { errors } from '../errors.js'
import { decodeCursor, toPage } from '../http/pagination.js'
import { newId } from '../ids.js'
import { applyWebhooksSwitch } from '../outbound/deliveries/pause.js'
import type { CreateWorkspaceBody, UpdateWorkspaceBody, Workspace } from '../schemas/workspaces.js'
import * as repo from './workspace-repository.js'

export function toWorkspace(row: WorkspaceRow): Workspace {
  return {
    id: row.id,
    name: row.name,
    external_id: row.external_id,
    webhooks_enabled: row.webhooks_enabled,
    retention_days: row.retention_days,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}

export async function createWorkspace(db: Db, body: CreateWorkspaceBody): Promise<Workspace> {
  try {
    return toWorkspace(await repo.insertWorkspace(db, { id: newId('ws'), ...body }))
  } catch (err) {
    throw uniqueViolationToConflict(err, body.external_id)
  }
}

export async function getWorkspace(db: Db, id: string): Promise<Workspace> {
  const row = await repo.findWorkspace(db, id)
  if (!row) throw errors.notFound('workspace', id)
  return toWorkspace(row)
}

export async function listWorkspaces(db: Db, query: { limit: number; cursor?: string }) {
  const before = query.cursor ? String(decodeCursor(query.cursor, 1)[0]) : undefined
  const rows = await repo.listWorkspaces(db, { limit: query.limit + 1, before })
  const { rows: pageRows, next_cursor } = toPage(rows, query.limit, (r) => [r.id])
  return { data: pageRows.map(toWorkspace), next_cursor }
}

export async function updateWorkspace(
  db: Db,
  id: string,
  body: UpdateWorkspaceBody,
): Promise<Workspace> {
  let row: WorkspaceRow | undefined
  try {
    row = await db.transaction().execute(async (trx) => {
      const updated = await repo.updateWorkspace(trx, id, body)
      // Off pauses the workspace's rule deliveries, on resumes them.
      if (updated && body.webhooks_enabled !== undefined)
        await applyWebhooksSwitch(trx, id, body.webhooks_enabled)
      return updated
    })
  } catch (err) {
    throw uniqueViolationToConflict(err, body.external_id)
  }
  if (!row) throw errors.notFound('workspace', id)
  return toWorkspace(row)
}

/** Deleting a workspace deletes everything it owns (foreign keys cascade). */
export async function deleteWorkspace(db: Db, id: string): Promise<void> {
  if (!(await repo.deleteWorkspace(db, id))) throw errors.notFound('workspace', id)
}

function uniqueViolationToConflict(err: unknown, externalId: string | null | undefined) {
  if ((err as { code?: string }).code === '23505') {
    return errors.conflict(`external_id: a workspace with external_id "${externalId}" exists`)
  }
  return err
}
