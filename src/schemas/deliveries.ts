import { type Static, Type } from 'typebox'
import { IdParam, Nullable, Timestamp } from './common.js'

export const DeliveryStatus = Type.Enum(
  ['queued', 'delivering', 'succeeded', 'failed', 'cancelled'],
  {
    description: '`queued` is shown to users as "In Queue".',
  },
)

export const DeliveryAttempt = Type.Object(
  {
    attempt: Type.Integer(),
    request: Type.Object(
      {
        method: Type.String(),
        url: Type.String(),
        headers: Type.Record(Type.String(), Type.String()),
        body: Type.String(),
        body_truncated: Type.Boolean(),
      },
      { additionalProperties: false, description: 'As sent, with credentials redacted.' },
    ),
    response_status: Nullable(Type.Integer()),
    response_headers: Nullable(Type.Record(Type.String(), Type.String())),
    response_body: Nullable(
      Type.String({ description: 'Truncated at RESPONSE_BODY_LIMIT_BYTES.' }),
    ),
    duration_ms: Type.Integer(),
    error: Nullable(Type.String()),
    created_at: Timestamp,
  },
  { $id: 'DeliveryAttempt', additionalProperties: false },
)

const deliveryProperties = {
  id: Type.String(),
  rule_id: Nullable(Type.String()),
  kind: Type.Enum(['rule', 'notice'], { description: '`notice`: a push to the CRM callback.' }),
  event_id: Nullable(Type.String()),
  event_type: Nullable(Type.String()),
  entity_type: Nullable(Type.String()),
  entity_id: Nullable(Type.String()),
  status: DeliveryStatus,
  status_label: Type.String({
    deprecated: true,
    description:
      'Deprecated (kept until 2027-12-06 at least): an English display string ("In Queue", ' +
      '"Succeeded"…). Translate `status` in the CRM instead.',
  }),
  attempt_count: Type.Integer({
    description: 'Attempts made so far (the detail lists them as `attempt_history`).',
  }),
  attempts: Type.Integer({
    deprecated: true,
    description: 'Deprecated alias of `attempt_count` (kept until 2027-12-06 at least).',
  }),
  max_attempts: Type.Integer(),
  next_attempt_at: Nullable(Timestamp),
  mass_post_id: Nullable(Type.String()),
  response_status: Nullable(Type.Integer()),
  response_mapped: Nullable(Type.Record(Type.String(), Type.Unknown())),
  response_unmapped: Nullable(
    Type.Array(
      Type.Object(
        { path: Type.String(), field: Type.String(), reason: Type.String() },
        { additionalProperties: false },
      ),
      {
        description:
          'The rule’s response mapping paths this delivery’s response did not have, each with ' +
          'why: the body was empty, not in the rule’s `response.format` (and what it looked ' +
          'like), or had no value at the path. Null when every path was found or nothing is mapped.',
      },
    ),
  ),
  last_error: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
  finished_at: Nullable(Timestamp),
}

const deliveryExample = {
  id: 'dlv_01jdgk2x7m3q9v8h6c4r2t5w1y',
  rule_id: 'rul_01jdgk2x7m3q9v8h6c4r2t5w1y',
  kind: 'rule',
  event_id: 'evt_01jdgk2x7m3q9v8h6c4r2t5w1y',
  event_type: 'lead.updated',
  entity_type: 'lead',
  entity_id: 'L-1001',
  status: 'succeeded',
  status_label: 'Succeeded',
  attempt_count: 1,
  attempts: 1,
  max_attempts: 3,
  next_attempt_at: null,
  mass_post_id: null,
  response_status: 200,
  response_mapped: { 'lead.dialer_id': 'D-77' },
  response_unmapped: null,
  last_error: null,
  created_at: '2026-11-24T09:30:00.000Z',
  updated_at: '2026-11-24T09:30:00.210Z',
  finished_at: '2026-11-24T09:30:00.210Z',
}

export const Delivery = Type.Object(deliveryProperties, {
  $id: 'Delivery',
  additionalProperties: false,
  examples: [deliveryExample],
})
export type Delivery = Static<typeof Delivery>

export const DeliveryDetail = Type.Object(
  { ...deliveryProperties, attempt_history: Type.Array(Type.Ref('DeliveryAttempt')) },
  { $id: 'DeliveryDetail', additionalProperties: false },
)

export const DeliveryPage = Type.Object(
  { data: Type.Array(Type.Ref('Delivery')), next_cursor: Nullable(Type.String()) },
  { $id: 'DeliveryPage', additionalProperties: false },
)

export const DeliveryListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    rule_id: Type.Optional(Type.String({ maxLength: 64 })),
    status: Type.Optional(DeliveryStatus),
    event_type: Type.Optional(Type.String({ maxLength: 100 })),
    entity_id: Type.Optional(
      Type.String({
        maxLength: 200,
        description:
          'The record id. A batch is found by any record it carried, though its own `entity_id` ' +
          'is its first record’s.',
      }),
    ),
    kind: Type.Optional(Type.Enum(['rule', 'notice'])),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'Default: 7 days ago.' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Default: now.' })),
  },
  { additionalProperties: false },
)
export type DeliveryListQuery = Static<typeof DeliveryListQuery>

export const DeliveryParams = Type.Object(
  { deliveryId: IdParam('delivery', 'dlv') },
  { additionalProperties: false },
)

export const RetryFailedBody = Type.Object(
  {
    rule_id: Type.String({ maxLength: 64 }),
    since: Type.String({ format: 'date-time' }),
    until: Type.Optional(Type.String({ format: 'date-time' })),
  },
  {
    $id: 'RetryFailed',
    additionalProperties: false,
    examples: [{ rule_id: 'rul_01jdgk2x7m3q9v8h6c4r2t5w1y', since: '2026-11-23T00:00:00Z' }],
  },
)

export const RetryFailedResult = Type.Object(
  { retried: Type.Integer(), delivery_ids: Type.Array(Type.String()) },
  {
    $id: 'RetryFailedResult',
    additionalProperties: false,
    examples: [{ retried: 1, delivery_ids: ['dlv_01jdgk2x7m3q9v8h6c4r2t5w1y'] }],
  },
)
