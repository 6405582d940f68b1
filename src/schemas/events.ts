import { type Static, Type } from 'typebox'
import { EventTypeName } from './catalog.js'
import { IdParam, Nullable, Timestamp } from './common.js'

export const EventInput = Type.Object(
  {
    type: EventTypeName,
    record: Type.Ref('Record'),
    previous_fields: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: true,
          description: 'The record before the change, for `changed` conditions.',
        },
      ),
    ),
    idempotency_key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'Held for 24 hours: a repeat with the same event returns the first answer and sends ' +
          'nothing; a different event with the key is refused (409). Then it may be used again.',
      }),
    ),
  },
  {
    $id: 'EventInput',
    additionalProperties: false,
    examples: [
      {
        type: 'lead.updated',
        record: {
          entity_type: 'lead',
          entity_id: 'L-1001',
          fields: { lead: { id: 'L-1001', status: 'Qualified' } },
        },
        previous_fields: { lead: { id: 'L-1001', status: 'New' } },
        idempotency_key: 'lead-L-1001-v7',
      },
    ],
  },
)
export type EventInput = Static<typeof EventInput> & {
  record: { entity_type: string; entity_id: string; fields: Record<string, unknown> }
  previous_fields?: Record<string, unknown>
}

export const EventBatch = Type.Object(
  { events: Type.Array(Type.Ref('EventInput'), { minItems: 1, maxItems: 1000 }) },
  { $id: 'EventBatch', additionalProperties: false },
)

export const EventResult = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    duplicate: Type.Boolean({
      description: 'True when the idempotency key was seen: this is the first answer again.',
    }),
    webhooks_enabled: Type.Boolean(),
    matched_rules: Type.Array(Type.String()),
    deliveries: Type.Array(Type.String(), {
      description: 'Deliveries queued (or added to an open batch).',
    }),
    inline: Type.Optional(
      Type.Array(Type.Ref('Delivery'), {
        description:
          '`POST /v1/events` only: the deliveries of matched rules in inline mode (no delay, no ' +
          'batching window), after their first attempt, which was made before this answer. ' +
          'Retries, if any, go on in the background. Left out when there are none.',
      }),
    ),
  },
  {
    $id: 'EventResult',
    additionalProperties: false,
    examples: [
      {
        id: 'evt_01jdgk2x7m3q9v8h6c4r2t5w1y',
        type: 'lead.updated',
        duplicate: false,
        webhooks_enabled: true,
        matched_rules: ['rul_01jdgk2x7m3q9v8h6c4r2t5w1y'],
        deliveries: ['dlv_01jdgk2x7m3q9v8h6c4r2t5w1y'],
      },
    ],
  },
)
export type EventResult = Static<typeof EventResult>

export const EventBatchResult = Type.Object(
  { data: Type.Array(Type.Ref('EventResult')) },
  { $id: 'EventBatchResult', additionalProperties: false },
)

export const EventDetail = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    record: Type.Ref('Record'),
    previous_fields: Nullable(Type.Record(Type.String(), Type.Unknown())),
    idempotency_key: Nullable(Type.String()),
    created_at: Timestamp,
    deliveries: Type.Array(Type.Ref('Delivery')),
  },
  { $id: 'EventDetail', additionalProperties: false },
)

export const EventParams = Type.Object(
  { eventId: IdParam('event', 'evt') },
  { additionalProperties: false },
)
