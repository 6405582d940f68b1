import type { FastifyInstance } from 'fastify'
import { Webhook } from 'standardwebhooks'
import type { RuleView } from '../../src/schemas/rules.js'
import { eventually, type Received } from './receiver.js'

/** Helpers for the outbound end-to-end tests: rules, events and deliveries through the API. */

export interface Workspace {
  id: string
  auth: { authorization: string }
}

export interface AttemptJson {
  attempt: number
  request: {
    method: string
    url: string
    headers: Record<string, string>
    body: string
    body_truncated: boolean
  }
  response_status: number | null
  response_headers: Record<string, string> | null
  response_body: string | null
  duration_ms: number
  error: string | null
}

export interface DeliveryJson {
  id: string
  rule_id: string | null
  kind: 'rule' | 'notice'
  event_id: string | null
  event_type: string | null
  entity_type: string | null
  entity_id: string | null
  status: 'queued' | 'delivering' | 'succeeded' | 'failed' | 'cancelled'
  status_label: string
  attempts: number
  max_attempts: number
  next_attempt_at: string | null
  response_status: number | null
  response_mapped: Record<string, unknown> | null
  last_error: string | null
  created_at: string
  finished_at: string | null
  attempt_history: AttemptJson[]
}

export interface EventAnswer {
  id: string
  duplicate: boolean
  matched_rules: string[]
  deliveries: string[]
}

export interface Notice {
  type: string
  timestamp: string
  data: Record<string, unknown>
}

export const lead = (fields: Record<string, unknown>, id = 'L-1') => ({
  entity_type: 'lead',
  entity_id: id,
  fields: { lead: { id, ...fields } },
})

/** A rule body with a JSON POST to `url`; `overrides` replace top-level properties. */
export function ruleBody(url: string, overrides: Record<string, unknown> = {}) {
  return {
    title: 'Rule',
    event_types: ['lead.created'],
    request: { method: 'POST', url, body_format: 'json' },
    ...overrides,
  }
}

export async function createRule(
  app: FastifyInstance,
  ws: Workspace,
  body: Record<string, unknown>,
): Promise<RuleView> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: body,
  })
  if (res.statusCode !== 201) throw new Error(`create rule: ${res.statusCode} ${res.body}`)
  return res.json<RuleView>()
}

export async function postEvent(
  app: FastifyInstance,
  ws: Workspace,
  type: string,
  record: { entity_type: string; entity_id: string; fields: Record<string, unknown> },
  extra: Record<string, unknown> = {},
): Promise<EventAnswer> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: ws.auth,
    payload: { type, record, ...extra },
  })
  if (res.statusCode !== 202) throw new Error(`post event: ${res.statusCode} ${res.body}`)
  return res.json<EventAnswer>()
}

export async function getDelivery(
  app: FastifyInstance,
  ws: Workspace,
  id: string,
): Promise<DeliveryJson> {
  const res = await app.inject({ url: `/v1/deliveries/${id}`, headers: ws.auth })
  if (res.statusCode !== 200) throw new Error(`get delivery: ${res.statusCode} ${res.body}`)
  return res.json<DeliveryJson>()
}

const finished = new Set(['succeeded', 'failed', 'cancelled'])

/** Polls a delivery until it has finished (or reached `status`), and answers it. */
export function settled(
  app: FastifyInstance,
  ws: Workspace,
  id: string,
  status?: DeliveryJson['status'],
  timeoutMs = 15_000,
): Promise<DeliveryJson> {
  return eventually(async () => {
    const delivery = await getDelivery(app, ws, id)
    return (status ? delivery.status === status : finished.has(delivery.status))
      ? delivery
      : undefined
  }, timeoutMs)
}

export async function signingSecret(app: FastifyInstance, ws: Workspace): Promise<string> {
  const res = await app.inject({ url: '/v1/settings/signing-secret', headers: ws.auth })
  return res.json<{ secret: string }>().secret
}

export async function setCallback(app: FastifyInstance, ws: Workspace, url: string) {
  const res = await app.inject({
    method: 'PATCH',
    url: '/v1/settings',
    headers: ws.auth,
    payload: { crm_callback_url: url },
  })
  if (res.statusCode !== 200) throw new Error(`set callback: ${res.statusCode} ${res.body}`)
}

/** Verifies a received request with the `standardwebhooks` package; throws when it does not verify. */
export function verifyStandardWebhook(secret: string, got: Received): unknown {
  return new Webhook(secret).verify(got.body, {
    'webhook-id': String(got.headers['webhook-id']),
    'webhook-timestamp': String(got.headers['webhook-timestamp']),
    'webhook-signature': String(got.headers['webhook-signature']),
  })
}

/** Lets time pass where a test must show that something did *not* happen. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
