import { signRequest } from '../../src/signing/signatures.js'

/**
 * The workload of `npm run bench:deliver`: one `lead.created` event per
 * delivery, a rule that POSTs six of its fields as a JSON object (the seeds'
 * key-value style), and the same POST as the peers send it: the same body
 * bytes and the same Standard Webhooks + X-Hookline-Signature headers.
 */

export const EVENT_TYPE = 'lead.created'

export function leadEvent(i: number) {
  const id = `L-${i}`
  return {
    type: EVENT_TYPE,
    record: {
      entity_type: 'lead',
      entity_id: id,
      fields: {
        lead: {
          id,
          first_name: 'Ada',
          last_name: `Lovelace ${i}`,
          email: `ada.${i}@example.com`,
          phone: '+44 20 7946 0958',
          status: 'New',
          source: 'web',
          budget: 250_000 + (i % 1000),
          notes:
            'Looking for a two-bedroom flat near the river; prefers viewings on weekday evenings.',
        },
      },
    },
  }
}
export type LeadEvent = ReturnType<typeof leadEvent>

const pairs = [
  ['lead_id', 'id'],
  ['first_name', 'first_name'],
  ['last_name', 'last_name'],
  ['email', 'email'],
  ['phone', 'phone'],
  ['budget', 'budget'],
] as const

/** The rule Hookline is given: the six pairs, each a sole `{{ }}` so values keep their JSON type. */
export function ruleBody(receiverUrl: string) {
  return {
    title: 'Bench: lead to receiver',
    event_types: [EVENT_TYPE],
    request: {
      method: 'POST',
      url: `${receiverUrl}/hooks/lead`,
      body_format: 'json',
      body_pairs: pairs.map(([key, field]) => ({ key, value: `{{ lead.${field} }}` })),
    },
  }
}

/** The body Hookline renders from that rule, written by hand as a team would. */
export function peerBody(event: LeadEvent): string {
  const lead = event.record.fields.lead as Record<string, unknown>
  const body: Record<string, unknown> = {}
  for (const [key, field] of pairs) body[key] = lead[field]
  return JSON.stringify(body)
}

/** The peers' request: the body, its content type, and the same signature headers as Hookline's. */
export function peerRequest(event: LeadEvent, msgId: string, secret: string) {
  const body = peerBody(event)
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'bench-peer/1',
      ...signRequest({ msgId, timestamp: new Date(), body, secrets: [secret] }),
    },
  }
}

export const PEER_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
