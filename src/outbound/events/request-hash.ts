import { hash } from 'node:crypto'
import { canonicalJson } from '../../formats/canonical-json.js'
import type { EventInput } from '../../schemas/events.js'

/**
 * What makes a repeated idempotency key "the same event": the sha256 of its
 * type, record and previous fields as canonical JSON (keys sorted at every
 * level), so a client that rebuilds the body in another key order is still
 * repeating itself. The key itself is left out: it is what is being compared.
 */
export function eventRequestHash(input: EventInput): string {
  const subject = {
    type: input.type,
    record: {
      entity_type: input.record.entity_type,
      entity_id: input.record.entity_id,
      fields: input.record.fields,
    },
    previous_fields: input.previous_fields ?? null,
  }
  return hash('sha256', canonicalJson(subject), 'hex')
}
