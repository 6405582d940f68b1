import type { Db } from '../../db/database.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { AttemptRequest } from '../../db/tables/delivery-attempts.js'
import type { RuleAuthInput } from '../../schemas/rule-parts.js'
import type { SecretBox } from '../../security/secret-box.js'
import { signingSecretsAt } from '../../settings/signing-secrets.js'
import { type DeliveryRecord, redactRequest, signOutbound } from './build-request.js'
import { renderRequest } from './render-request.js'

/** What history needs to render a request again. */
export interface HistoryDeps {
  db: Db
  box: SecretBox
  responseBodyLimit: number
}

/** Shown when a request cannot be rendered again (its rule version or record is gone). */
export const UNKNOWN_REQUEST: AttemptRequest = {
  method: '',
  url: '',
  headers: {},
  body: '',
  body_truncated: false,
}

/**
 * The request of an attempt kept without a copy of it (a first attempt that
 * succeeded, migrations/0019), as history shows it: rendered again from the
 * delivery's records and the rule version it was sent with, signed again
 * with the secrets that signed at `sentAt` and that moment as its timestamp,
 * then redacted as a kept request is. Rendering is a function of these
 * alone, so it is the request that was sent, with one exception: a template
 * that reads the clock renders today's time.
 */
export async function renderSentRequest(
  deps: HistoryDeps,
  delivery: Pick<DeliveryRow, 'id' | 'workspace_id'>,
  records: DeliveryRecord | DeliveryRecord[] | null,
  attempt: { sentAt: Date; ruleVersionId: number | null },
): Promise<AttemptRequest> {
  if (attempt.ruleVersionId === null || records === null) return UNKNOWN_REQUEST
  const version = await deps.db
    .selectFrom('rule_versions')
    .selectAll()
    .where('id', '=', attempt.ruleVersionId)
    .executeTakeFirst()
  if (!version) return UNKNOWN_REQUEST
  // Credentials are redacted from history, so none are opened: placeholders
  // render the same header names, whose values redaction masks.
  const pub = version.auth_public ?? {}
  const credentials: RuleAuthInput =
    version.auth_type === 'basic'
      ? { type: 'basic', username: pub.username ?? '', password: '' }
      : version.auth_type === 'bearer'
        ? { type: 'bearer', token: '' }
        : version.auth_type === 'header'
          ? { type: 'header', name: pub.name ?? '', value: '' }
          : { type: 'none' }
  try {
    const unsigned = await renderRequest(version, records, credentials)
    const secrets = await signingSecretsAt(deps.db, deps.box, delivery.workspace_id, attempt.sentAt)
    const signed =
      secrets.length > 0 ? signOutbound(unsigned, delivery.id, secrets, attempt.sentAt) : unsigned
    return redactRequest(signed, credentials, deps.responseBodyLimit)
  } catch {
    return UNKNOWN_REQUEST
  }
}
