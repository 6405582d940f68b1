import { Type } from 'typebox'
import type { ConditionGroup } from '../conditions/condition-schema.js'
import type { InboundMappingEntry } from '../inbound/mapping.js'
import type { InboundParameterInput } from '../inbound/parameters.js'
import type { Verification, VerificationUpdate } from '../inbound/verification-schema.js'
import { mergePatchOf, Nullable } from './common.js'
import {
  CreatedBy,
  type HandlerAction,
  HandlerBodyFormat,
  HandlerMethod,
  HandlerProtection,
  HandlerResponse,
  MAX_BODY_LIMIT_BYTES,
} from './handler-parts.js'

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
