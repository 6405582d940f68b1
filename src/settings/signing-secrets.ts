import { sql } from 'kysely'
import type { Db } from '../db/database.js'
import type { SigningSecretRow } from '../db/tables/signing-secrets.js'
import { newId } from '../ids.js'
import type { SecretBox } from '../security/secret-box.js'
import { generateSigningSecret } from '../signing/signatures.js'

const binding = (id: string) => `signing_secrets:${id}`

/** Secrets that sign right now: the current one first, then those still in their overlap. */
export async function activeSigningSecrets(
  db: Db,
  box: SecretBox,
  workspaceId: string,
): Promise<string[]> {
  return openSigningSecrets(db, box, workspaceId, await listSecretRows(db, workspaceId))
}

/**
 * `activeSigningSecrets` from rows already read (as listSecretRows reads
 * them: unexpired, newest first): opened, or, when there are none, the
 * current secret made on first use.
 */
export async function openSigningSecrets(
  db: Db,
  box: SecretBox,
  workspaceId: string,
  rows: readonly Pick<SigningSecretRow, 'id' | 'secret'>[],
): Promise<string[]> {
  if (rows.length === 0) return [(await ensureCurrentSecret(db, box, workspaceId)).secret]
  return rows.map((row) => openSecretRow(box, row))
}

/** One stored secret, opened. A secret's id names its bytes for good: safe to cache by. */
export function openSecretRow(
  box: SecretBox,
  row: Pick<SigningSecretRow, 'id' | 'secret'>,
): string {
  return box.open(row.secret, binding(row.id))
}

/**
 * The secrets that were signing at `at` (made by then, not yet expired), newest
 * first, opened: what history signs a request kept without its copy with.
 * Secrets are never deleted, only expired, so any past moment can be asked.
 */
export async function signingSecretsAt(
  db: Db,
  box: SecretBox,
  workspaceId: string,
  at: Date,
): Promise<string[]> {
  const rows = await db
    .selectFrom('signing_secrets')
    .select(['id', 'secret'])
    .where('workspace_id', '=', workspaceId)
    .where('created_at', '<=', at)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute()
  return rows.map((row) => box.open(row.secret, binding(row.id)))
}

export async function listSecretRows(db: Db, workspaceId: string): Promise<SigningSecretRow[]> {
  return db
    .selectFrom('signing_secrets')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute()
}

export async function createSigningSecret(db: Db, box: SecretBox, workspaceId: string) {
  const id = newId('sec')
  const secret = generateSigningSecret()
  const row = await db
    .insertInto('signing_secrets')
    .values({
      id,
      workspace_id: workspaceId,
      secret: box.seal(secret, binding(id)),
      expires_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  return { row, secret }
}

/** The current secret with its plaintext (shown on request, like the seeds' "authentication key"). */
export async function revealCurrentSecret(db: Db, box: SecretBox, workspaceId: string) {
  const [current] = await listSecretRows(db, workspaceId)
  if (current && current.expires_at === null) {
    return { row: current, secret: box.open(current.secret, binding(current.id)) }
  }
  return ensureCurrentSecret(db, box, workspaceId)
}

/**
 * The current secret, made if there is none, one caller per workspace at a
 * time: a new workspace's first sends run side by side, and each making a
 * secret of its own would sign them with different keys.
 */
async function ensureCurrentSecret(db: Db, box: SecretBox, workspaceId: string) {
  return db.transaction().execute(async (trx) => {
    await lockWorkspaceSecrets(trx, workspaceId)
    const [current] = await listSecretRows(trx, workspaceId)
    if (current && current.expires_at === null) {
      return { row: current, secret: box.open(current.secret, binding(current.id)) }
    }
    return createSigningSecret(trx, box, workspaceId)
  })
}

/**
 * Rotation: a new current secret; the old ones expire after the overlap, and
 * until then every request carries a signature for each. One transaction,
 * one rotation per workspace at a time: two at once leave one current secret
 * (the second rotates the first's), never two, and a failure leaves none half done.
 */
export async function rotateSigningSecret(
  db: Db,
  box: SecretBox,
  workspaceId: string,
  overlapSeconds: number,
) {
  return db.transaction().execute(async (trx) => {
    await lockWorkspaceSecrets(trx, workspaceId)
    await trx
      .updateTable('signing_secrets')
      .set({ expires_at: new Date(Date.now() + overlapSeconds * 1000) })
      .where('workspace_id', '=', workspaceId)
      .where('expires_at', 'is', null)
      .execute()
    return createSigningSecret(trx, box, workspaceId)
  })
}

/** Held until the transaction ends: one change to a workspace's secrets at a time. */
async function lockWorkspaceSecrets(trx: Db, workspaceId: string) {
  await sql`select pg_advisory_xact_lock(hashtext(${`signing_secrets:${workspaceId}`}))`.execute(
    trx,
  )
}
