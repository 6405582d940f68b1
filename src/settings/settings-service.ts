import type { Db } from '../db/database.js'
import { errors } from '../errors.js'
import { type AllowList, checkUrlForSave } from '../net/address-policy.js'
import { releaseHeldNotices } from '../outbound/deliveries/held-notices.js'
import { applyWebhooksSwitch } from '../outbound/deliveries/pause.js'
import type { UpdateSettingsBody, WorkspaceSettings } from '../schemas/settings.js'
import type { SecretBox } from '../security/secret-box.js'
import { listSecretRows, revealCurrentSecret } from './signing-secrets.js'

export async function getSettings(
  db: Db,
  box: SecretBox,
  workspaceId: string,
): Promise<WorkspaceSettings> {
  const workspace = await db
    .selectFrom('workspaces')
    .select(['webhooks_enabled', 'crm_callback_url', 'crm_lookup_url', 'retention_days'])
    .where('id', '=', workspaceId)
    .executeTakeFirst()
  if (!workspace) throw errors.notFound('workspace', workspaceId)
  let secrets = await listSecretRows(db, workspaceId)
  if (secrets.length === 0) {
    await revealCurrentSecret(db, box, workspaceId)
    secrets = await listSecretRows(db, workspaceId)
  }
  return {
    ...workspace,
    signing_secrets: secrets.map((s) => ({
      id: s.id,
      created_at: s.created_at.toISOString(),
      expires_at: s.expires_at?.toISOString() ?? null,
    })),
  }
}

/**
 * The CRM's URLs get the rule URL's save-time check (scheme, no credentials,
 * no literal address the outbound policy refuses); names are checked again
 * on every send, on each address they resolve to.
 */
function urlProblems(patch: UpdateSettingsBody, allow: AllowList): string[] {
  const problems: string[] = []
  for (const field of ['crm_callback_url', 'crm_lookup_url'] as const) {
    const url = patch[field]
    const problem = url ? checkUrlForSave(url, allow) : null
    if (problem) problems.push(`body/${field}: ${problem}`)
  }
  return problems
}

export async function updateSettings(
  db: Db,
  box: SecretBox,
  workspaceId: string,
  patch: UpdateSettingsBody,
  allow: AllowList,
): Promise<WorkspaceSettings> {
  const problems = urlProblems(patch, allow)
  if (problems.length > 0) throw errors.validation(problems.join('; '))
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('workspaces')
      .set({ ...patch, updated_at: new Date() })
      .where('id', '=', workspaceId)
      .execute()
    // Records that waited for a callback go to it now (see held-notices.ts).
    if (patch.crm_callback_url) await releaseHeldNotices(trx, workspaceId)
    // Off pauses the workspace's rule deliveries, on resumes them.
    if (patch.webhooks_enabled !== undefined)
      await applyWebhooksSwitch(trx, workspaceId, patch.webhooks_enabled)
  })
  return getSettings(db, box, workspaceId)
}
