import type { HandlerRow } from '../db/tables/handlers.js'
import { errors } from '../errors.js'
import type { SecretBox } from '../security/secret-box.js'
import { verificationBinding } from './endpoint-token.js'
import {
  type PreviousSecret,
  type StoredVerification,
  secretOf,
  type Verification,
  type VerificationUpdate,
  withSecret,
} from './verification-schema.js'

const HIDDEN = new Set(['secret', 'password', 'previous'])
const STANDARD_WEBHOOKS_SECRET = /^(?:whsec_)?[A-Za-z0-9+/]+={0,2}$/

/**
 * The config without its secrets, shown in the API (with when each old
 * secret stops being accepted); the whole config sealed to the row, used to
 * verify.
 */
export function verificationColumns(box: SecretBox, id: string, verification: StoredVerification) {
  const shown = Object.fromEntries(Object.entries(verification).filter(([key]) => !HIDDEN.has(key)))
  const previous = (verification.previous ?? []).map(({ expires_at }) => expires_at)
  return {
    verification_public: JSON.stringify({ ...shown, previous_expires_at: previous }),
    verification_sealed:
      verification.type === 'none'
        ? null
        : box.seal(JSON.stringify(verification), verificationBinding(id)),
  }
}

export function openVerification(box: SecretBox, row: HandlerRow): StoredVerification {
  return row.verification_sealed
    ? JSON.parse(box.open(row.verification_sealed, verificationBinding(row.id)))
    : { type: 'none' }
}

/**
 * What a PATCH's verification becomes: as sent when it carries a secret (the
 * old ones go with the old config); without one, the stored secret and its
 * rotation overlap are kept, as long as the type is the same.
 */
export function resolveVerification(
  stored: StoredVerification,
  sent: VerificationUpdate,
): StoredVerification {
  const secret = secretOf(sent)
  if (sent.type === 'none' || secret !== undefined) return sent as Verification
  const kept = secretOf(stored)
  if (stored.type !== sent.type || kept === undefined) {
    const name = sent.type === 'basic' ? 'password' : 'secret'
    throw errors.validation(
      `body/verification/${name}: required when the type changes (the stored type is ${stored.type})`,
    )
  }
  const resolved = withSecret(sent, kept) as Verification
  return stored.previous ? { ...resolved, previous: stored.previous } : resolved
}

/**
 * A rotation: `secret` becomes the one senders sign with; the current one
 * stays accepted for `overlapSeconds` (0: not at all), beside older ones
 * still in their own overlap. Expired ones are dropped.
 */
export function rotateVerification(
  stored: StoredVerification,
  secret: string,
  overlapSeconds: number,
  now = new Date(),
): StoredVerification {
  const { previous = [], ...config } = stored
  const current = secretOf(config as Verification)
  if (config.type === 'none' || current === undefined)
    throw errors.conflict(
      'the handler verifies no secret (verification type none): nothing to rotate',
    )
  if (config.type === 'standard_webhooks' && !STANDARD_WEBHOOKS_SECRET.test(secret))
    throw errors.validation(
      'body/secret: a Standard Webhooks secret is base64, with or without whsec_',
    )
  const kept: PreviousSecret[] = previous.filter((p) => Date.parse(p.expires_at) > now.getTime())
  if (overlapSeconds > 0)
    kept.push({
      secret: current,
      expires_at: new Date(now.getTime() + overlapSeconds * 1000).toISOString(),
    })
  return { ...withSecret(config as Verification, secret), previous: kept }
}
