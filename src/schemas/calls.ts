import { type Static, Type } from 'typebox'
import { IdParam, Nullable, Timestamp } from './common.js'

export const CALL_OUTCOMES = [
  'received',
  'accepted',
  'duplicate',
  'filtered',
  'inactive',
  'rejected',
  'invalid',
  'error',
] as const
export type CallOutcome = (typeof CALL_OUTCOMES)[number]

export const CallOutcomeSchema = Type.Enum([...CALL_OUTCOMES], {
  description:
    '`accepted`: forwarded (POST) or answered from the CRM lookup (GET). `duplicate`: identical to a call ' +
    'within the protection period, or a verified Standard Webhooks message whose `webhook-id` was already ' +
    'received (the sender retrying), answered as accepted calls are and not forwarded again. `filtered`: the conditions did not match. `inactive`: ' +
    'the handler is off. `rejected`: verification failed. `invalid`: the method, ' +
    'body or a parameter is wrong. `error`: Hookline or the CRM lookup failed. `received`: still being ' +
    'processed, or the process stopped before it finished.',
})

export const FORWARDINGS = ['forwarded', 'waiting', 'failed'] as const
export type Forwarding = (typeof FORWARDINGS)[number]

const callProperties = {
  id: Type.String(),
  handler_id: Type.String(),
  method: Type.String(),
  outcome: CallOutcomeSchema,
  forwarding: Nullable(
    Type.Enum([...FORWARDINGS], {
      description:
        'Where the record of an accepted POST call is, beside the call’s own outcome (its `inbound.record` ' +
        'notice to the CRM callback): `forwarded` (the CRM took it), `waiting` (queued, retrying after a ' +
        'failure such as a 410, or held while the workspace has no CRM callback URL: it goes once one is ' +
        'set), `failed` (every try failed, or it was cancelled: resend it with ' +
        '`POST /v1/deliveries/{notice_delivery_id}/resend`). Null: nothing was forwarded (not an accepted ' +
        'POST call).',
    }),
  ),
  reason: Nullable(
    Type.String({ description: 'Why it ended as it did, naming the parameter or header.' }),
  ),
  source_address: Type.String(),
  content_type: Nullable(Type.String()),
  body_size: Type.Integer({ description: 'Bytes received.' }),
  response_status: Nullable(
    Type.Integer({ description: 'The status the sender was answered with.' }),
  ),
  received_at: Timestamp,
  finished_at: Nullable(Timestamp),
}

const callExample = {
  id: 'cal_01jdgk2x7m3q9v8h6c4r2t5w1y',
  handler_id: 'hdl_01jdgk2x7m3q9v8h6c4r2t5w1y',
  method: 'POST',
  outcome: 'accepted',
  forwarding: 'forwarded',
  reason: null,
  source_address: '203.0.113.7',
  content_type: 'application/x-www-form-urlencoded',
  body_size: 41,
  response_status: 200,
  received_at: '2026-11-24T09:30:00.000Z',
  finished_at: '2026-11-24T09:30:00.004Z',
}

export const Call = Type.Object(callProperties, {
  $id: 'Call',
  additionalProperties: false,
  examples: [callExample],
})

export const CallPage = Type.Object(
  { data: Type.Array(Type.Ref('Call')), next_cursor: Nullable(Type.String()) },
  { $id: 'CallPage', additionalProperties: false },
)

export const CallDetail = Type.Object(
  {
    ...callProperties,
    request: Type.Object(
      {
        headers: Type.Record(Type.String(), Type.Unknown(), { description: 'Secrets masked.' }),
        query: Type.Record(Type.String(), Type.Unknown(), {
          description: 'A secret query parameter masked.',
        }),
        body: Nullable(
          Type.String({ description: 'The raw body as kept (see `body_truncated`).' }),
        ),
        body_encoding: Type.Enum(['utf8', 'base64'], {
          description: 'base64 when the body is not UTF-8 text.',
        }),
        body_truncated: Type.Boolean({
          description: 'Only the first INBOUND_STORED_BODY_BYTES are kept.',
        }),
      },
      { additionalProperties: false },
    ),
    parameters: Nullable(
      Type.Record(Type.String(), Type.Unknown(), { description: 'Parsed and coerced.' }),
    ),
    record: Nullable(
      Type.Record(Type.String(), Type.Unknown(), { description: 'The mapped CRM record.' }),
    ),
    lookup: Nullable(Type.Unknown({ description: 'GET: the record the CRM lookup returned.' })),
    forwarded: Type.Object(
      {
        notice_delivery_id: Nullable(
          Type.String({
            description: 'The `inbound.record` notice to the CRM callback (see /v1/deliveries).',
          }),
        ),
        actions: Type.Array(
          Type.Object(
            {
              rule_id: Type.String(),
              delivery_id: Nullable(Type.String()),
              skipped: Nullable(Type.String({ description: 'Why the action did not run.' })),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  },
  {
    $id: 'CallDetail',
    additionalProperties: false,
    examples: [
      {
        ...callExample,
        request: {
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'x-form-token': '[redacted]',
          },
          query: {},
          body: 'email=ada%40example.com&full_name=Ada+Lovelace',
          body_encoding: 'utf8',
          body_truncated: false,
        },
        parameters: { email: 'ada@example.com', full_name: 'Ada Lovelace' },
        record: { lead: { email: 'ada@example.com', name: 'Ada Lovelace' } },
        lookup: null,
        forwarded: { notice_delivery_id: 'dlv_01jdgk2x7m3q9v8h6c4r2t5w1z', actions: [] },
      },
    ],
  },
)

export const CallListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    since: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'Calls at or after this. Default: 7 days ago.',
      }),
    ),
    until: Type.Optional(
      Type.String({ format: 'date-time', description: 'Calls at or before this. Default: now.' }),
    ),
    from: Type.Optional(
      Type.String({
        format: 'date-time',
        deprecated: true,
        description:
          'Deprecated alias of `since` (kept until 2027-12-06 at least); send one of them.',
      }),
    ),
    to: Type.Optional(
      Type.String({
        format: 'date-time',
        deprecated: true,
        description:
          'Deprecated alias of `until` (kept until 2027-12-06 at least); send one of them.',
      }),
    ),
    method: Type.Optional(Type.Enum(['GET', 'POST'])),
    outcome: Type.Optional(
      Type.Array(CallOutcomeSchema, {
        maxItems: 8,
        description: 'One or more (`outcome=a&outcome=b`).',
      }),
    ),
  },
  { additionalProperties: false },
)
export type CallListQuery = Static<typeof CallListQuery>

export const CallParams = Type.Object(
  { callId: IdParam('call', 'cal') },
  { additionalProperties: false },
)

export const callSchemas = [Call, CallPage, CallDetail]
