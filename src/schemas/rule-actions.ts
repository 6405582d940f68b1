import { type Static, Type } from 'typebox'
import { Nullable } from './common.js'

const SentRequest = Type.Object(
  {
    method: Type.String(),
    url: Type.String(),
    headers: Type.Record(Type.String(), Type.String()),
    body: Type.String(),
    body_truncated: Type.Boolean(),
  },
  { additionalProperties: false, description: 'Credentials are shown as "[redacted]".' },
)

const requestExample = {
  method: 'POST',
  url: 'https://dialer.example.com/leads',
  headers: {
    'content-type': 'application/json',
    authorization: '[redacted]',
    'webhook-id': 'msg_preview',
    'webhook-timestamp': '1764063000',
    'webhook-signature': 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
    'x-hookline-signature': 'sha256=3f1c…',
  },
  body: '{"id": "L-1001", "phone": "+15555550100"}',
  body_truncated: false,
}

export const RecordBody = Type.Object(
  {
    record: Type.Optional(
      Type.Ref('Record', {
        description:
          'The record to render. Left out: the sample of the first of the rule’s event types ' +
          'that has one (`PUT /v1/event-types/{name}`); 400 when none has.',
      }),
    ),
  },
  {
    $id: 'RecordBody',
    additionalProperties: false,
    examples: [
      {
        record: {
          entity_type: 'lead',
          entity_id: 'L-1001',
          fields: { lead: { id: 'L-1001', phone: '+15555550100' } },
        },
      },
    ],
  },
)

export const ExecuteBody = Type.Object(
  {
    record: Type.Ref('Record'),
    mode: Type.Optional(
      Type.Enum(['inline', 'background'], { description: 'Default: the rule’s mode.' }),
    ),
  },
  {
    $id: 'ExecuteBody',
    additionalProperties: false,
    examples: [
      {
        record: { entity_type: 'lead', entity_id: 'L-1001', fields: { lead: { id: 'L-1001' } } },
        mode: 'inline',
      },
    ],
  },
)

export const PreviewResult = Type.Object(
  { request: SentRequest },
  { $id: 'PreviewResult', additionalProperties: false, examples: [{ request: requestExample }] },
)

export const TestResult = Type.Object(
  {
    request: SentRequest,
    response: Type.Object(
      {
        status: Nullable(Type.Integer()),
        headers: Nullable(Type.Record(Type.String(), Type.String())),
        body: Nullable(Type.String()),
        duration_ms: Type.Integer(),
        error: Nullable(Type.String()),
      },
      { additionalProperties: false },
    ),
    response_mapped: Type.Record(Type.String(), Type.Unknown()),
  },
  {
    $id: 'TestResult',
    additionalProperties: false,
    examples: [
      {
        request: requestExample,
        response: {
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: '{"data":{"id":"D-77"}}',
          duration_ms: 84,
          error: null,
        },
        response_mapped: { 'lead.dialer_id': 'D-77' },
      },
    ],
  },
)

export const ExecuteResult = Type.Object(
  { mode: Type.Enum(['inline', 'background']), delivery: Type.Ref('DeliveryDetail') },
  { $id: 'ExecuteResult', additionalProperties: false },
)

export const RecordInput = Type.Object(
  {
    entity_type: Type.String({ minLength: 1, maxLength: 100, examples: ['lead'] }),
    entity_id: Type.String({ minLength: 1, maxLength: 200, examples: ['L-1001'] }),
    fields: Type.Object(
      {},
      { additionalProperties: true, description: 'The record’s fields, nested by entity.' },
    ),
  },
  {
    $id: 'Record',
    additionalProperties: false,
    examples: [
      {
        entity_type: 'lead',
        entity_id: 'L-1001',
        fields: { lead: { id: 'L-1001', email: 'ada@example.com' } },
      },
    ],
  },
)
export type RecordInput = Static<typeof RecordInput>
