import type { DeliveryRecord } from '../send/build-request.js'

/** What a rendered request may name: the fields, plus `record.*` and `event.*`. */
export function recordOf(
  input: {
    type: string
    record: { entity_type: string; entity_id: string; fields: Record<string, unknown> }
  },
  eventId: string | null,
  at: Date,
): DeliveryRecord {
  return {
    entity_type: input.record.entity_type,
    entity_id: input.record.entity_id,
    fields: input.record.fields,
    event: { id: eventId, type: input.type, occurred_at: at.toISOString() },
  }
}

/** An event's columns a delivery's record is made of. */
export interface EventRecordColumns {
  id: string
  type: string
  entity_type: string
  entity_id: string
  fields: Record<string, unknown>
  created_at: Date
}

/**
 * The record a rule's delivery for one event is rendered from, made from the
 * event row (migrations/0020): the same object `recordOf` made at intake, as
 * the event is inserted with that same moment as its `created_at`.
 */
export function eventRecord(event: EventRecordColumns): DeliveryRecord {
  return recordOf(
    {
      type: event.type,
      record: { entity_type: event.entity_type, entity_id: event.entity_id, fields: event.fields },
    },
    event.id,
    event.created_at,
  )
}
