import fc from 'fast-check'
import t from 'tap'
import { eventRequestHash } from '../../src/outbound/events/request-hash.js'
import type { EventInput } from '../../src/schemas/events.js'

const event = (fields: Record<string, unknown>, extra: Partial<EventInput> = {}): EventInput => ({
  type: 'lead.updated',
  record: { entity_type: 'lead', entity_id: 'L-1', fields },
  ...extra,
})

/** The same value with every object's keys in reverse order. */
const reversed = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(reversed)
    : typeof value === 'object' && value !== null
      ? Object.fromEntries(
          Object.entries(value)
            .reverse()
            .map(([k, v]) => [k, reversed(v)]),
        )
      : value

t.test('key order does not matter', async () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (fields) => {
      const a = eventRequestHash(event(fields, { previous_fields: fields }))
      const b = eventRequestHash(
        event(reversed(fields) as Record<string, unknown>, {
          previous_fields: reversed(fields) as Record<string, unknown>,
        }),
      )
      return a === b && /^[0-9a-f]{64}$/.test(a)
    }),
  )
})

t.test('every part of the event counts, the key does not', async (t) => {
  const base = eventRequestHash(event({ status: 'New' }))
  t.equal(base, eventRequestHash(event({ status: 'New' }, { idempotency_key: 'k-1' })))
  t.not(base, eventRequestHash(event({ status: 'Won' })))
  t.not(base, eventRequestHash({ ...event({ status: 'New' }), type: 'lead.created' }))
  t.not(base, eventRequestHash(event({ status: 'New' }, { previous_fields: { status: 'Old' } })))
  const other = event({ status: 'New' })
  other.record.entity_id = 'L-2'
  t.not(base, eventRequestHash(other))
  other.record = { entity_type: 'contact', entity_id: 'L-1', fields: { status: 'New' } }
  t.not(base, eventRequestHash(other))
})
