import type { Db } from '../db/database.js'
import { type Sender, USER_AGENT } from '../net/http-sender.js'
import type { SecretBox } from '../security/secret-box.js'
import { activeSigningSecrets } from '../settings/signing-secrets.js'
import { signRequest } from '../signing/signatures.js'

export interface LookupDeps {
  db: Db
  box: SecretBox
  sender: Sender
  timeoutMs: number
}

export interface LookupRequest {
  workspaceId: string
  handlerId: string
  callId: string
  entityType: string
  params: Record<string, unknown>
  record: Record<string, unknown>
}

export type LookupResult =
  | { ok: true; record: Record<string, unknown> | null }
  | { ok: false; reason: string }

/**
 * A GET call's synchronous question to the CRM: a signed POST of
 * `{ type: "inbound.lookup", timestamp, data: { handler_id, call_id,
 * entity_type, record, parameters } }` to the workspace's lookup URL, signed
 * like every notice (Standard Webhooks, `webhook-id` = the call id), through
 * the SSRF-guarded sender with a short timeout. The CRM answers 2xx with
 * `{ "record": { … } }`, or `{ "record": null }` when nothing matches;
 * anything else is a failed lookup.
 */
export async function lookupRecord(
  deps: LookupDeps,
  request: LookupRequest,
): Promise<LookupResult> {
  const workspace = await deps.db
    .selectFrom('workspaces')
    .select('crm_lookup_url')
    .where('id', '=', request.workspaceId)
    .executeTakeFirst()
  const url = workspace?.crm_lookup_url
  if (!url) return { ok: false, reason: 'no CRM lookup URL is set for the workspace' }
  const secrets = await activeSigningSecrets(deps.db, deps.box, request.workspaceId)
  const timestamp = new Date()
  const body = JSON.stringify({
    type: 'inbound.lookup',
    timestamp: timestamp.toISOString(),
    data: {
      handler_id: request.handlerId,
      call_id: request.callId,
      entity_type: request.entityType,
      record: request.record,
      parameters: request.params,
    },
  })
  const headers = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    ...signRequest({ msgId: request.callId, timestamp, body, secrets }),
  }
  const result = await deps.sender.send(
    { method: 'POST', url, headers, body },
    { timeoutMs: deps.timeoutMs },
  )
  if (result.error) return { ok: false, reason: `the CRM lookup failed: ${result.error}` }
  if (result.status === null || result.status < 200 || result.status > 299) {
    return { ok: false, reason: `the CRM lookup answered ${result.status}` }
  }
  let answer: unknown
  try {
    answer = JSON.parse(result.body ?? '')
  } catch {
    return { ok: false, reason: 'the CRM lookup did not answer JSON' }
  }
  const found = isObject(answer) && Object.hasOwn(answer, 'record') ? answer.record : undefined
  if (found === null) return { ok: true, record: null }
  if (!isObject(found))
    return { ok: false, reason: 'the CRM lookup answered without a "record" object' }
  return { ok: true, record: found }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
