import { issueApiKey } from '../api-keys/api-key-service.js'
import type { Db } from '../db/database.js'
import type { IssuedApiKey } from '../schemas/api-keys.js'
import type { Workspace } from '../schemas/workspaces.js'
import { countWorkspaces } from './workspace-repository.js'
import { createWorkspace } from './workspace-service.js'

/**
 * On the very first start (no workspace at all) create one with a key, so a
 * newcomer can call the API straight away. Two processes racing here may both
 * create one; that is harmless and only happens on an empty database.
 */
export async function bootstrapDefaultWorkspace(
  db: Db,
): Promise<{ workspace: Workspace; key: IssuedApiKey } | undefined> {
  if ((await countWorkspaces(db)) > 0) return undefined
  const workspace = await createWorkspace(db, { name: 'Default workspace' })
  const key = await issueApiKey(db, workspace.id, 'Created at first start')
  return { workspace, key }
}
