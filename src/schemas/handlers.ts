import { type Static, Type } from 'typebox'
import type { ConditionGroup } from '../conditions/condition-schema.js'
import { InboundMapping, type InboundMappingEntry } from '../inbound/mapping.js'
import { InboundParameter, InboundParameterInput } from '../inbound/parameters.js'
import { PARAMETER_PATH_PATTERN } from '../inbound/paths.js'
import { Verification, VerificationUpdate } from '../inbound/verification-schema.js'
import { IdParam, mergePatchOf, Nullable, Timestamp } from './common.js'

export const MAX_BODY_LIMIT_BYTES = 10 * 1024 * 1024
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024

export const HandlerMethod = Type.Enum(['GET', 'POST'], {
  description:
    'POST: the mapped record is pushed to the CRM callback as a signed `inbound.record` notice ' +
    '(`{ type, timestamp, data: { handler_id, call_id, entity_type, entity_id, record, received_at } }`, ' +
    'queued with retries; a 410 is retried too; while the workspace has no CRM callback URL it waits, and ' +
    'goes once one is set: the call’s `forwarding` says where it is). GET: the parameters come from the query; the mapped record is sent to the ' +
    'workspace’s CRM lookup URL as a signed POST `{ type: "inbound.lookup", timestamp, data: { handler_id, ' +
    'call_id, entity_type, record, parameters } }` (`webhook-id` is the call id, INBOUND_LOOKUP_TIMEOUT_MS), ' +
    'which answers 2xx `{ "record": { … } }` or `{ "record": null }`; the response renders that record.',
})

export const HandlerBodyFormat = Type.Enum(['auto', 'json', 'form', 'xml', 'multipart'], {
  description:
    'How POST bodies are read. `auto` goes by Content-Type, then by the first byte; a set format wins ' +
    'over a mislabelled Content-Type.',
})

const headerName = Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$" })

export const HandlerResponse = Type.Object(
  {
    status: Type.Integer({
      minimum: 200,
      maximum: 299,
      default: 200,
      description:
        'A 2xx: accepted, filtered and duplicate calls all get it, so senders do not retry.',
    }),
    content_type: Type.String({
      minLength: 1,
      maxLength: 200,
      default: 'application/json',
      description:
        'JSON types render the template as JSON, XML types as XML (always well-formed), anything else as text.',
    }),
    headers: Type.Array(
      Type.Object(
        {
          name: headerName,
          value: Type.String({ maxLength: 2000, description: 'May use the template data.' }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 20, default: [] },
    ),
    body_template: Nullable(
      Type.String({
        maxLength: 100_000,
        description:
          'Liquid template over `params` (the call’s parameters), `record` (GET: the looked-up record) and ' +
          '`call.id`. Null: `{"ok":true}` for POST, `{"record": …}` for GET.',
      }),
    ),
  },
  {
    $id: 'HandlerResponse',
    additionalProperties: false,
    examples: [
      {
        status: 200,
        content_type: 'application/json',
        headers: [],
        body_template: '{"received": true, "email": "{{ params.email }}"}',
      },
    ],
  },
)
export type HandlerResponse = Static<typeof HandlerResponse>

export const HandlerAction = Type.Object(
  {
    type: Type.Literal('run_rule'),
    rule_id: IdParam('rule', 'rul'),
  },
  {
    $id: 'HandlerAction',
    additionalProperties: false,
    description:
      'A fulfillment action, run on every accepted POST call: the outbound rule is run with the mapped record ' +
      '(in the background, with its own retries). A deleted or disabled rule is skipped.',
    examples: [{ type: 'run_rule', rule_id: 'rul_01jdgk2x7m3q9v8h6c4r2t5w1y' }],
  },
)
export type HandlerAction = Static<typeof HandlerAction>

export const HandlerProtection = Type.Object(
  {
    period_seconds: Type.Integer({
      minimum: 0,
      maximum: 30 * 86400,
      default: 0,
      description:
        'An identical POST call within this many seconds is a `duplicate` and not forwarded. 0: off.',
    }),
    parameters: Type.Array(
      Type.String({ minLength: 1, maxLength: 200, pattern: PARAMETER_PATH_PATTERN }),
      {
        maxItems: 50,
        default: [],
        description: 'The parameters that make two calls identical; empty: all of them.',
      },
    ),
  },
  {
    $id: 'HandlerProtection',
    additionalProperties: false,
    examples: [{ period_seconds: 60, parameters: ['email'] }],
  },
)
export type HandlerProtection = Static<typeof HandlerProtection>

export const VerificationView = Type.Object(
  {
    type: Type.Enum([
      'none',
      'hmac',
      'stripe',
      'standard_webhooks',
      'basic',
      'secret_header',
      'secret_query',
    ]),
    header: Type.Optional(Type.String()),
    algorithm: Type.Optional(Type.String()),
    encoding: Type.Optional(Type.String()),
    prefix: Type.Optional(Type.String()),
    toleranceSeconds: Type.Optional(Type.Integer()),
    username: Type.Optional(Type.String()),
    param: Type.Optional(Type.String()),
    secret_set: Type.Boolean({
      description: 'Whether a secret or password is stored; it is never shown.',
    }),
    previous_secrets: Type.Array(
      Type.Object({ expires_at: Timestamp }, { additionalProperties: false }),
      {
        description:
          'Old secrets (or passwords) still accepted after a rotation, each until its `expires_at` ' +
          '(`POST /v1/handlers/{id}/rotate-secret`).',
      },
    ),
  },
  {
    $id: 'VerificationView',
    additionalProperties: false,
    description: 'The sender verification as stored, without its secret.',
    examples: [
      {
        type: 'hmac',
        header: 'X-Hub-Signature-256',
        algorithm: 'sha256',
        encoding: 'hex',
        prefix: 'sha256=',
        secret_set: true,
        previous_secrets: [{ expires_at: '2026-11-25T09:30:00.000Z' }],
      },
    ],
  },
)

const CreatedBy = Type.Object(
  { id: Type.String({ maxLength: 200 }), name: Type.String({ maxLength: 200 }) },
  { additionalProperties: false, description: 'The host CRM user who made the handler.' },
)

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

const inputProperties = {
  title: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  enabled: Type.Optional(
    Type.Boolean({ description: 'Default true. Disabled: calls are recorded, not forwarded.' }),
  ),
  active: Type.Optional(
    Type.Boolean({
      deprecated: true,
      description:
        'Deprecated alias of `enabled` (kept until 2027-12-06 at least); send one of them.',
    }),
  ),
  methods: Type.Optional(
    Type.Array(HandlerMethod, { minItems: 1, uniqueItems: true, default: ['POST'] }),
  ),
  body_format: Type.Optional(HandlerBodyFormat),
  body_limit_bytes: Type.Optional(
    Type.Integer({ minimum: 1024, maximum: MAX_BODY_LIMIT_BYTES, description: 'Default 1 MiB.' }),
  ),
  parameters: Type.Optional(Type.Array(Type.Ref('InboundParameterInput'), { maxItems: 500 })),
  mapping: Type.Optional(Type.Ref('InboundMapping')),
  entity_type: Type.Optional(
    Nullable(
      Type.String({
        pattern: '^[A-Za-z_][A-Za-z0-9_-]{0,99}$',
        description:
          'The CRM entity the record is (`lead`). Null: the first segment the mapping targets share, else `record`.',
      }),
    ),
  ),
  conditions: Type.Optional(Nullable(Type.Ref('ConditionGroup'))),
  protection: Type.Optional(Type.Partial(HandlerProtection, { additionalProperties: false })),
  verification: Type.Optional(Type.Ref('Verification')),
  response: Type.Optional(Type.Partial(HandlerResponse, { additionalProperties: false })),
  actions: Type.Optional(Type.Array(Type.Ref('HandlerAction'), { maxItems: 20 })),
  created_by: Type.Optional(Nullable(CreatedBy)),
}

export const CreateHandlerBody = Type.Object(inputProperties, {
  $id: 'CreateHandler',
  additionalProperties: false,
  examples: [
    {
      title: 'Website contact form',
      body_format: 'form',
      parameters: [{ name: 'email', type: 'email', required: true }],
      mapping: [{ source: 'email', target: 'lead.email' }],
      protection: { period_seconds: 60 },
      verification: {
        type: 'secret_header',
        header: 'X-Form-Token',
        secret: 'a-long-shared-secret',
      },
    },
  ],
})

// No defaults here: a default would be filled in for a property not sent, and
// replace what is stored (`{}` would reset the methods to POST, and pass).
export const UpdateHandlerBody = Type.Object(
  {
    ...inputProperties,
    title: Type.Optional(inputProperties.title),
    methods: Type.Optional(Type.Array(HandlerMethod, { minItems: 1, uniqueItems: true })),
    verification: Type.Optional(Type.Ref('VerificationUpdate')),
  },
  {
    $id: 'UpdateHandler',
    additionalProperties: false,
    minProperties: 1,
    description:
      'As `application/json`: properties sent replace the stored ones whole, nested objects included ' +
      '(see `UpdateHandlerMergePatch`; a verification of the stored type may leave its ' +
      'secret out, to keep it); others stay. ' +
      'At least one property: `{}` is refused (400).',
    examples: [{ protection: { period_seconds: 300, parameters: ['email'] } }],
  },
)

/** The PATCH body as `application/merge-patch+json` (documented; the merged result is validated as `UpdateHandler`). */
export const UpdateHandlerMergePatch = Type.Object(
  {
    ...UpdateHandlerBody.properties,
    response: Type.Optional(mergePatchOf(HandlerResponse, 'Merged into the stored response.')),
    protection: Type.Optional(
      mergePatchOf(HandlerProtection, 'Merged into the stored protection.'),
    ),
  },
  {
    $id: 'UpdateHandlerMergePatch',
    additionalProperties: false,
    minProperties: 1,
    description:
      'RFC 7396: top-level properties replace; `response` and `protection` merge member by member, ' +
      '`null` removing one (it takes its default). `{}` is refused (400).',
    examples: [{ response: { body_template: '{"ok": true}' } }],
  },
)

/** What create and update take; written by hand because the `$ref`s erase the static types. */
export interface HandlerInput {
  title?: string
  description?: string
  enabled?: boolean
  /** Deprecated alias of `enabled`. */
  active?: boolean
  methods?: ('GET' | 'POST')[]
  body_format?: 'auto' | 'json' | 'form' | 'xml' | 'multipart'
  body_limit_bytes?: number
  parameters?: InboundParameterInput[]
  mapping?: InboundMappingEntry[]
  entity_type?: string | null
  conditions?: ConditionGroup | null
  protection?: Partial<HandlerProtection>
  /** Create: a `Verification`, secret included. Update: the secret may be left out to keep it. */
  verification?: Verification | VerificationUpdate
  response?: Partial<HandlerResponse>
  actions?: HandlerAction[]
  created_by?: { id: string; name: string } | null
}

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

export const RotateHandlerSecretBody = Type.Object(
  {
    secret: Type.String({
      minLength: 1,
      maxLength: 1024,
      writeOnly: true,
      description: 'The new secret (for `basic`, the new password), as the sender will use it.',
    }),
    overlap_seconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 30 * 86400,
        default: 86400,
        description:
          'How long the current secret stays accepted beside the new one. 0: not at all.',
      }),
    ),
  },
  {
    $id: 'RotateHandlerSecret',
    additionalProperties: false,
    examples: [{ secret: 'the-new-shared-secret', overlap_seconds: 86400 }],
  },
)

export const HandlerParams = Type.Object(
  { handlerId: IdParam('handler', 'hdl') },
  { additionalProperties: false },
)

export const SampleBody = Type.Object(
  {
    format: Type.Optional(Type.Enum(['json', 'form', 'xml'], { default: 'json' })),
    sample: Type.Union([Type.String({ maxLength: 1024 * 1024 }), Type.Object({})], {
      description: 'A JSON document as JSON, or the sample as text (JSON, form-urlencoded or XML).',
    }),
  },
  {
    $id: 'SampleBody',
    additionalProperties: false,
    examples: [
      {
        format: 'json',
        sample: { customer: { email: 'ada@example.com', age: 36 }, items: [{ sku: 'A-1' }] },
      },
    ],
  },
)

export const SampleParameters = Type.Object(
  { parameters: Type.Array(Type.Ref('InboundParameter')) },
  {
    $id: 'SampleParameters',
    additionalProperties: false,
    examples: [
      {
        parameters: [
          { name: 'customer.email', type: 'email', required: false },
          { name: 'customer.age', type: 'number', required: false },
          { name: 'items[0].sku', type: 'string', required: false },
        ],
      },
    ],
  },
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
