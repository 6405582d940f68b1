import type { HandlerRow } from '../db/tables/handlers.js'
import type { CallCounts } from '../schemas/handlers.js'
import type { SecretBox } from '../security/secret-box.js'
import { endpointUrl, tokenBinding } from './endpoint-token.js'
import type { OutcomeCounts } from './handler-repository.js'

/** A handler row as the API shows it: the endpoint URL opened, secrets never. */
export function toHandler(row: HandlerRow, box: SecretBox, publicBaseUrl: string) {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    enabled: row.active,
    active: row.active,
    endpoint_url: endpointUrl(publicBaseUrl, box.open(row.token_sealed, tokenBinding(row.id))),
    methods: row.methods as ('GET' | 'POST')[],
    body_format: row.body_format,
    body_limit_bytes: row.body_limit_bytes,
    parameters: row.parameters,
    mapping: row.mapping,
    entity_type: row.entity_type,
    conditions: row.conditions,
    protection: { period_seconds: row.protection_seconds, parameters: row.protection_parameters },
    verification: verificationView(row),
    response: row.response,
    actions: row.actions,
    created_by: row.created_by,
    token_rotated_at: row.token_rotated_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  }
}
export type HandlerView = ReturnType<typeof toHandler>

function verificationView(row: HandlerRow) {
  const { previous_expires_at = [], ...shown } = row.verification_public as Record<
    string,
    unknown
  > & { type: string; previous_expires_at?: string[] }
  const now = Date.now()
  return {
    ...shown,
    secret_set: row.verification_sealed !== null,
    previous_secrets: previous_expires_at
      .filter((at) => Date.parse(at) > now)
      .map((expires_at) => ({ expires_at })),
  }
}

const NO_CALLS = {
  total: 0,
  accepted: 0,
  duplicate: 0,
  filtered: 0,
  inactive: 0,
  rejected: 0,
  invalid: 0,
  error: 0,
}

export function toCallCounts(counts: OutcomeCounts | undefined, from: Date, to: Date): CallCounts {
  const since = from.toISOString()
  const until = to.toISOString()
  return { since, until, from: since, to: until, ...NO_CALLS, ...counts }
}
