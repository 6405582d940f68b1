import type { Db } from '../db/database.js'
import type { NewWorkspaceRow, WorkspaceRow, WorkspaceUpdate } from '../db/tables/workspaces.js'

export async function insertWorkspace(db: Db, row: NewWorkspaceRow): Promise<WorkspaceRow> {
  return db.insertInto('workspaces').values(row).returningAll().executeTakeFirstOrThrow()
}

export async function findWorkspace(db: Db, id: string): Promise<WorkspaceRow | undefined> {
  return db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst()
}

/** Newest first; `before` is the last id of the previous page. */
export async function listWorkspaces(
  db: Db,
  { limit, before }: { limit: number; before?: string },
): Promise<WorkspaceRow[]> {
  let query = db.selectFrom('workspaces').selectAll().orderBy('id', 'desc').limit(limit)
  if (before) query = query.where('id', '<', before)
  return query.execute()
}

export async function updateWorkspace(
  db: Db,
  id: string,
  patch: WorkspaceUpdate,
): Promise<WorkspaceRow | undefined> {
  return db
    .updateTable('workspaces')
    .set({ ...patch, updated_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst()
}

export async function deleteWorkspace(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('workspaces').where('id', '=', id).executeTakeFirst()
  return result.numDeletedRows > 0n
}

export async function countWorkspaces(db: Db): Promise<number> {
  const { count } = await db
    .selectFrom('workspaces')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirstOrThrow()
  return Number(count)
}
