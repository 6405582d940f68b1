import { type Static, Type } from 'typebox'
import { InboundMapping } from '../inbound/mapping.js'
import { InboundParameter, InboundParameterInput } from '../inbound/parameters.js'
import { Verification, VerificationUpdate } from '../inbound/verification-schema.js'
import { IdParam, Nullable, Timestamp } from './common.js'
import {
  CreateHandlerBody,
  RotateHandlerSecretBody,
  SampleBody,
  SampleParameters,
  UpdateHandlerBody,
  UpdateHandlerMergePatch,
} from './handler-bodies.js'
import {
  CreatedBy,
  HandlerAction,
  HandlerBodyFormat,
  HandlerMethod,
  HandlerProtection,
  HandlerResponse,
  VerificationView,
} from './handler-parts.js'

const handlerExample = {
  id: 'hdl_01jdgk2x7m3q9v8h6c4r2t5w1y',
  title: 'Website contact form',
  description: 'Leads from the site’s form tool',
  enabled: true,
  active: true,
  endpoint_url: 'https://hooks.example.com/in/hli_4u9bS0cE1yq3Hq0w5QmKQZ7nJ2rL8xTa',
  methods: ['POST'],
  body_format: 'form',
  body_limit_bytes: 1048576,
  parameters: [
    { name: 'email', type: 'email', required: true },
    { name: 'full_name', type: 'string', required: false },
  ],
  mapping: [
    { source: 'email', target: 'lead.email' },
    { source: 'full_name', target: 'lead.name' },
  ],
  entity_type: 'lead',
  conditions: {
    any: [
      { field: 'email', op: 'contains', value: 'acme' },
      { field: 'full_name', op: 'is_not_empty' },
    ],
  },
  protection: { period_seconds: 60, parameters: [] },
  verification: {
    type: 'secret_header',
    header: 'X-Form-Token',
    secret_set: true,
    previous_secrets: [],
  },
  response: { status: 200, content_type: 'application/json', headers: [], body_template: null },
  actions: [],
  created_by: { id: 'u-17', name: 'Ada Lovelace' },
  token_rotated_at: null,
  created_at: '2026-11-24T09:30:00.000Z',
  updated_at: '2026-11-24T09:30:00.000Z',
}

const handlerProperties = {
  id: Type.String(),
  title: Type.String(),
  description: Type.String(),
  enabled: Type.Boolean({
    description: 'Disabled: calls are recorded as `inactive`, answered 503, not forwarded.',
  }),
  active: Type.Boolean({
    deprecated: true,
    description: 'Deprecated alias of `enabled` (kept until 2027-12-06 at least).',
  }),
  endpoint_url: Type.String({
    description: 'Give this URL to the sender. Rotating the token changes it.',
  }),
  methods: Type.Array(HandlerMethod),
  body_format: HandlerBodyFormat,
  body_limit_bytes: Type.Integer({
    description: 'Larger bodies are answered 413 and recorded as `invalid`.',
  }),
  parameters: Type.Array(Type.Ref('InboundParameter')),
  mapping: Type.Ref('InboundMapping'),
  entity_type: Nullable(Type.String()),
  conditions: Nullable(Type.Ref('ConditionGroup')),
  protection: Type.Ref('HandlerProtection'),
  verification: Type.Ref('VerificationView'),
  response: Type.Ref('HandlerResponse'),
  actions: Type.Array(Type.Ref('HandlerAction')),
  created_by: Nullable(CreatedBy),
  token_rotated_at: Nullable(Timestamp),
  created_at: Timestamp,
  updated_at: Timestamp,
}

export const Handler = Type.Object(handlerProperties, {
  $id: 'Handler',
  additionalProperties: false,
  examples: [handlerExample],
})

export const CallCounts = Type.Object(
  {
    since: Type.String({
      format: 'date-time',
      description: 'Start of the window (`calls_since`).',
    }),
    until: Type.String({ format: 'date-time', description: 'End of the window (`calls_until`).' }),
    from: Type.String({
      format: 'date-time',
      deprecated: true,
      description: 'Deprecated alias of `since` (kept until 2027-12-06 at least).',
    }),
    to: Type.String({
      format: 'date-time',
      deprecated: true,
      description: 'Deprecated alias of `until` (kept until 2027-12-06 at least).',
    }),
    total: Type.Integer(),
    accepted: Type.Integer(),
    duplicate: Type.Integer(),
    filtered: Type.Integer(),
    inactive: Type.Integer(),
    rejected: Type.Integer(),
    invalid: Type.Integer(),
    error: Type.Integer(),
  },
  {
    $id: 'CallCounts',
    additionalProperties: false,
    description: 'Calls received in the window, by outcome.',
    examples: [
      {
        since: '2026-11-17T09:30:00.000Z',
        until: '2026-11-24T09:30:00.000Z',
        from: '2026-11-17T09:30:00.000Z',
        to: '2026-11-24T09:30:00.000Z',
        total: 1250,
        accepted: 1180,
        duplicate: 41,
        filtered: 17,
        inactive: 0,
        rejected: 3,
        invalid: 9,
        error: 0,
      },
    ],
  },
)
export type CallCounts = Static<typeof CallCounts>

export const HandlerListItem = Type.Object(
  { ...handlerProperties, calls: Type.Ref('CallCounts') },
  { $id: 'HandlerListItem', additionalProperties: false },
)

export const HandlerPage = Type.Object(
  { data: Type.Array(Type.Ref('HandlerListItem')), next_cursor: Nullable(Type.String()) },
  { $id: 'HandlerPage', additionalProperties: false },
)

export const HandlerListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    q: Type.Optional(
      Type.String({ maxLength: 200, description: 'Text in the title or description.' }),
    ),
    enabled: Type.Optional(Type.Boolean({ description: 'Only enabled (or disabled) handlers.' })),
    active: Type.Optional(
      Type.Boolean({
        deprecated: true,
        description: 'Deprecated alias of `enabled` (kept until 2027-12-06 at least).',
      }),
    ),
    calls_since: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'Start of the call-count window; default 7 days ago.',
      }),
    ),
    calls_until: Type.Optional(
      Type.String({ format: 'date-time', description: 'End of the window; default now.' }),
    ),
    calls_from: Type.Optional(
      Type.String({
        format: 'date-time',
        deprecated: true,
        description: 'Deprecated alias of `calls_since` (kept until 2027-12-06 at least).',
      }),
    ),
    calls_to: Type.Optional(
      Type.String({
        format: 'date-time',
        deprecated: true,
        description: 'Deprecated alias of `calls_until` (kept until 2027-12-06 at least).',
      }),
    ),
  },
  { additionalProperties: false },
)
export type HandlerListQuery = Static<typeof HandlerListQuery>

export const HandlerParams = Type.Object(
  { handlerId: IdParam('handler', 'hdl') },
  { additionalProperties: false },
)

export const handlerSchemas = [
  InboundParameter,
  InboundParameterInput,
  InboundMapping,
  Verification,
  VerificationUpdate,
  HandlerResponse,
  HandlerAction,
  HandlerProtection,
  VerificationView,
  Handler,
  CallCounts,
  HandlerListItem,
  HandlerPage,
  CreateHandlerBody,
  UpdateHandlerBody,
  UpdateHandlerMergePatch,
  SampleBody,
  SampleParameters,
  RotateHandlerSecretBody,
]
