import { type Static, Type } from 'typebox'
import type { ConditionGroup } from '../conditions/condition-schema.js'
import { EventTypeName, FieldKey } from './catalog.js'
import { IdParam, mergePatchOf, Nullable, Timestamp } from './common.js'

const Template = (description: string, maxLength = 10_000) =>
  Type.String({ maxLength, description })

export const HttpMethod = Type.Enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], {
  description: 'HTTP method.',
})
export const BodyFormat = Type.Enum(['json', 'form', 'xml', 'text'], {
  description: 'JSON, form-urlencoded, XML or plain text.',
})

const Pair = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 200 }),
    value: Template('A field (`{{lead.email}}`), a constant, or a small template.', 2000),
  },
  { additionalProperties: false },
)

export const RuleRequest = Type.Object(
  {
    method: HttpMethod,
    url: Type.String({
      minLength: 8,
      maxLength: 2000,
      pattern: '^https?://',
      description: 'May insert fields: `https://x.example/{{lead.id}}?src={{lead.source}}`.',
    }),
    body_format: BodyFormat,
    body_template: Type.Optional(
      Nullable(
        Template(
          'The body as a JSON, XML or text template. Use this or `body_pairs`; with neither, JSON ' +
            'and XML send the whole record (XML: elements under `xml_root`, default `record`).',
          100_000,
        ),
      ),
    ),
    body_pairs: Type.Optional(
      Nullable(
        Type.Array(Pair, {
          maxItems: 200,
          description:
            'The body as key-value pairs: a flat JSON object, a form, `<xml_root><key>value</key>…` or, ' +
            'for text, one `key=value` per line (LF; `\\\\`, `\\n`, `\\r` escaped in values). ' +
            'GET and DELETE send them as query parameters.',
        }),
      ),
    ),
    xml_root: Type.Optional(Type.String({ pattern: '^[A-Za-z_][\\w.-]*$', maxLength: 100 })),
    headers: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$" }),
            value: Template('Header value; may insert fields.', 2000),
          },
          { additionalProperties: false },
        ),
        {
          maxItems: 50,
          description:
            'Extra request headers. Not `Host`, `Connection`, `Content-Length`, `Transfer-Encoding`, ' +
            '`TE`, `Trailer`, `Upgrade`, `Keep-Alive`, `Expect` or `Proxy-*`: Hookline sets those (400).',
        },
      ),
    ),
    append_record_params: Type.Optional(
      Type.Boolean({
        description:
          'Append the record as LeadSquared-style query parameters: `entityType` (the record’s ' +
          '`entity_type`, e.g. `lead`), `entityId` (its `entity_id`; in a batch, the first ' +
          'record’s) and `eventType` (the triggering event’s type, e.g. `lead.created`; left out ' +
          'when a rule runs without an event, as with execute and mass posts). A name the rule ' +
          'already sends, in its URL or (GET and DELETE) as a key-value pair, keeps the rule’s ' +
          'value and is not appended again.',
      }),
    ),
  },
  { $id: 'RuleRequest', additionalProperties: false },
)
export type RuleRequest = Static<typeof RuleRequest>

// Credentials go into a header verbatim: a line break could never be sent.
const NO_LINE_BREAKS = '^[^\\r\\n\\u0000]*$'

/** As sent: secrets included. Answers never echo them (see `RuleAuth`). */
export const RuleAuthInput = Type.Union(
  [
    Type.Object({ type: Type.Literal('none') }, { additionalProperties: false }),
    Type.Object(
      {
        type: Type.Literal('basic'),
        username: Type.String({ minLength: 1, maxLength: 200 }),
        password: Type.String({ maxLength: 500 }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('bearer'),
        token: Type.String({ minLength: 1, maxLength: 4000, pattern: NO_LINE_BREAKS }),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('header'),
        name: Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$" }),
        value: Type.String({ minLength: 1, maxLength: 4000, pattern: NO_LINE_BREAKS }),
      },
      { additionalProperties: false },
    ),
  ],
  { $id: 'RuleAuthInput', description: 'Secrets are encrypted at rest and never shown again.' },
)
export type RuleAuthInput = Static<typeof RuleAuthInput>

export const RuleAuth = Type.Object(
  {
    type: Type.Enum(['none', 'basic', 'bearer', 'header']),
    username: Type.Optional(Type.String()),
    name: Type.Optional(Type.String({ description: 'The custom header’s name.' })),
    secret_set: Type.Boolean({
      description: 'Whether a password, token or header value is stored.',
    }),
  },
  { $id: 'RuleAuth', additionalProperties: false },
)

export const RuleExecution = Type.Object(
  {
    delay_seconds: Type.Integer({ minimum: 0, maximum: 30 * 86400, default: 0 }),
    mode: Type.Union([Type.Literal('background'), Type.Literal('inline')], {
      default: 'background',
      description:
        '`inline`: `POST /v1/events` and `execute` send before they answer, and answer with the ' +
        'first attempt (unless the rule has a delay or a batching window); `background`: queued.',
    }),
    timeout_ms: Type.Integer({ minimum: 1000, maximum: 60_000, default: 15_000 }),
    max_attempts: Type.Integer({
      minimum: 1,
      maximum: 10,
      default: 3,
      description: 'Tries in all; retries back off exponentially with jitter, up to about a day.',
    }),
    success: Type.Union([Type.Literal('2xx'), Type.Literal('200')], {
      default: '2xx',
      description: 'What counts as delivered: any 2xx, or exactly 200.',
    }),
    batch_window_seconds: Type.Integer({
      minimum: 0,
      maximum: 3600,
      default: 0,
      description:
        'Events within this window go out as one request; 0 sends each. JSON: an array; form: ' +
        'indexed keys `records[0][id]=…&records[1][id]=…`; XML: `<batch>` of the records. Not for ' +
        'text bodies, GET or DELETE (400).',
    }),
    rate_limit_per_second: Type.Union(
      [Type.Integer({ minimum: 1, maximum: 10_000 }), Type.Null()],
      {
        default: null,
        description: 'Requests per second at most; null for no limit.',
      },
    ),
  },
  { $id: 'RuleExecution', additionalProperties: false },
)
export type RuleExecution = Static<typeof RuleExecution>

export const RuleResponse = Type.Object(
  {
    format: Type.Enum(['json', 'form', 'xml', 'text'], { default: 'json' }),
    mapping: Type.Array(
      Type.Object(
        {
          path: Type.String({
            minLength: 1,
            maxLength: 500,
            description:
              'Where in the response: `data.id`, `items.0.status` (XML: element path; text: ' +
              '`text`, the whole body, and no other path). A path a response lacks is named, ' +
              'with why, in the delivery’s `response_unmapped`.',
          }),
          field: FieldKey,
        },
        { additionalProperties: false },
      ),
      { maxItems: 100, default: [] },
    ),
  },
  { $id: 'RuleResponse', additionalProperties: false },
)
export type RuleResponse = Static<typeof RuleResponse>

const CreatedBy = Type.Object(
  { id: Type.String({ maxLength: 200 }), name: Type.String({ maxLength: 200 }) },
  { additionalProperties: false, description: 'The host CRM user who made the rule.' },
)

export const RuleReference = Type.Object(
  {
    reference: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'The host automation’s id.',
    }),
    name: Type.String({ maxLength: 200 }),
  },
  { additionalProperties: false },
)

const ruleExample = {
  id: 'rul_01jdgk2x7m3q9v8h6c4r2t5w1y',
  title: 'Send qualified leads to the dialer',
  description: '',
  enabled: true,
  created_by: { id: 'u-17', name: 'Ada Lovelace' },
  event_types: ['lead.updated'],
  conditions: { all: [{ field: 'lead.status', op: 'equals', value: 'Qualified' }] },
  request: {
    method: 'POST',
    url: 'https://dialer.example.com/leads?src={{lead.source}}',
    body_format: 'json',
    body_template: '{"id": "{{lead.id}}", "phone": "{{lead.phone}}"}',
    body_pairs: null,
    headers: [{ name: 'X-Campaign', value: 'fall' }],
    append_record_params: false,
  },
  auth: { type: 'bearer', secret_set: true },
  execution: {
    delay_seconds: 0,
    mode: 'background',
    timeout_ms: 15000,
    max_attempts: 3,
    success: '2xx',
    batch_window_seconds: 0,
    rate_limit_per_second: null,
  },
  response: { format: 'json', mapping: [{ path: 'data.id', field: 'lead.dialer_id' }] },
  notify_on_failure: true,
  references: [],
  disabled_code: null,
  disabled_reason: null,
  created_at: '2026-11-24T09:30:00.000Z',
  updated_at: '2026-11-24T09:30:00.000Z',
}

export const Rule = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    description: Type.String(),
    enabled: Type.Boolean(),
    created_by: Nullable(CreatedBy),
    event_types: Type.Array(Type.String(), { description: 'Empty: manual only.' }),
    conditions: Nullable(Type.Ref('ConditionGroup')),
    request: Type.Ref('RuleRequest'),
    auth: Type.Ref('RuleAuth'),
    execution: Type.Ref('RuleExecution'),
    response: Type.Ref('RuleResponse'),
    notify_on_failure: Type.Boolean(),
    references: Type.Array(RuleReference),
    disabled_code: Nullable(
      Type.Enum(['receiver_gone', 'over_render_budget', 'failing_too_long'], {
        description:
          'Why Hookline disabled it, if it did: the receiver answered 410, its templates went over the ' +
          'render budget on deliveries in a row, or every delivery failed for RULE_AUTO_DISABLE_HOURS. ' +
          'Translate this in the CRM.',
      }),
    ),
    disabled_reason: Nullable(
      Type.String({ description: 'The same in English, with figures, for logs and support.' }),
    ),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Rule', additionalProperties: false, examples: [ruleExample] },
)

const ruleInputProperties = {
  title: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  enabled: Type.Optional(Type.Boolean()),
  created_by: Type.Optional(Nullable(CreatedBy)),
  event_types: Type.Optional(Type.Array(EventTypeName, { maxItems: 50, uniqueItems: true })),
  conditions: Type.Optional(Nullable(Type.Ref('ConditionGroup'))),
  request: Type.Ref('RuleRequest'),
  auth: Type.Optional(Type.Ref('RuleAuthInput')),
  execution: Type.Optional(Type.Partial(RuleExecution, { additionalProperties: false })),
  response: Type.Optional(Type.Partial(RuleResponse, { additionalProperties: false })),
  notify_on_failure: Type.Optional(Type.Boolean()),
}

const createExample = {
  title: 'Send qualified leads to the dialer',
  event_types: ['lead.updated'],
  conditions: { all: [{ field: 'lead.status', op: 'equals', value: 'Qualified' }] },
  request: {
    method: 'POST',
    url: 'https://dialer.example.com/leads',
    body_format: 'json',
    body_template: '{"id": "{{lead.id}}", "phone": "{{lead.phone}}"}',
  },
  auth: { type: 'bearer', token: 'dialer-api-token' },
}

export const CreateRuleBody = Type.Object(ruleInputProperties, {
  $id: 'CreateRule',
  additionalProperties: false,
  examples: [createExample],
})

export const UpdateRuleBody = Type.Object(
  {
    ...ruleInputProperties,
    title: Type.Optional(ruleInputProperties.title),
    request: Type.Optional(ruleInputProperties.request),
  },
  {
    $id: 'UpdateRule',
    additionalProperties: false,
    minProperties: 1,
    description:
      'As `application/json`: properties sent replace the stored ones whole, nested objects included ' +
      '(their members left out take their defaults); others stay. See `UpdateRuleMergePatch`.',
    examples: [{ title: 'Renamed', execution: { max_attempts: 5 } }],
  },
)

/** The PATCH body as `application/merge-patch+json` (documented; the merged result is validated as `UpdateRule`). */
export const UpdateRuleMergePatch = Type.Object(
  {
    ...UpdateRuleBody.properties,
    request: Type.Optional(mergePatchOf(RuleRequest, 'Merged into the stored request.')),
    execution: Type.Optional(mergePatchOf(RuleExecution, 'Merged into the stored execution.')),
    response: Type.Optional(mergePatchOf(RuleResponse, 'Merged into the stored response.')),
  },
  {
    $id: 'UpdateRuleMergePatch',
    additionalProperties: false,
    minProperties: 1,
    description:
      'RFC 7396: top-level properties replace; `request`, `execution` and `response` merge member by ' +
      'member, `null` removing one (it takes its default).',
    examples: [
      { request: { url: 'https://dialer.example.com/v2/leads' }, execution: { max_attempts: 5 } },
    ],
  },
)

export interface RuleInput {
  title?: string
  description?: string
  enabled?: boolean
  created_by?: { id: string; name: string } | null
  event_types?: string[]
  conditions?: ConditionGroup | null
  request?: RuleRequest
  auth?: RuleAuthInput
  execution?: Partial<RuleExecution>
  response?: Partial<RuleResponse>
  notify_on_failure?: boolean
}

export interface RuleView {
  id: string
  title: string
  description: string
  enabled: boolean
  created_by: { id: string; name: string } | null
  event_types: string[]
  conditions: ConditionGroup | null
  request: RuleRequest
  auth: { type: string; username?: string; name?: string; secret_set: boolean }
  execution: RuleExecution
  response: RuleResponse
  notify_on_failure: boolean
  references: { reference: string; name: string }[]
  disabled_code: 'receiver_gone' | 'over_render_budget' | 'failing_too_long' | null
  disabled_reason: string | null
  created_at: string
  updated_at: string
}

export const RulePage = Type.Object(
  {
    data: Type.Array(Type.Ref('Rule')),
    next_cursor: Nullable(Type.String()),
  },
  { $id: 'RulePage', additionalProperties: false },
)

export const RuleListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 1000 })),
    sort: Type.Enum(
      [
        'created',
        '-created',
        'title',
        '-title',
        'enabled',
        '-enabled',
        'status',
        '-status',
        'trigger',
        '-trigger',
        'url',
        '-url',
      ],
      {
        default: '-created',
        description:
          'Sort key; a leading `-` sorts descending. `status` is a deprecated alias of `enabled` ' +
          '(kept until 2027-12-06 at least).',
      },
    ),
    q: Type.Optional(
      Type.String({ maxLength: 200, description: 'Text in the title, description or URL.' }),
    ),
    enabled: Type.Optional(Type.Boolean({ description: 'Only enabled (or disabled) rules.' })),
    status: Type.Optional(
      Type.Union([Type.Literal('enabled'), Type.Literal('disabled')], {
        deprecated: true,
        description:
          'Deprecated alias of `enabled` (kept until 2027-12-06 at least): `enabled` is ' +
          '`enabled=true`; send one of them.',
      }),
    ),
    event_type: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
)
export type RuleListQuery = Static<typeof RuleListQuery>

export const RuleParams = Type.Object(
  { ruleId: IdParam('rule', 'rul') },
  { additionalProperties: false },
)

export const ReferencesBody = Type.Object(
  {
    references: Type.Array(
      // Its own input shape: `name` may be left out (it is then ''), in every generator.
      Type.Object(
        {
          reference: RuleReference.properties.reference,
          name: Type.Optional(Type.String({ maxLength: 200, default: '' })),
        },
        { additionalProperties: false },
      ),
      { maxItems: 500 },
    ),
  },
  {
    $id: 'RuleReferences',
    additionalProperties: false,
    examples: [{ references: [{ reference: 'automation-88', name: 'New lead follow-up' }] }],
  },
)

export const CloneRuleBody = Type.Object(
  {
    created_by: Type.Optional(
      Type.Union([CreatedBy, Type.Null()], {
        description:
          'The host CRM user making the clone, shown as its `created_by`. Left out: null; the ' +
          'source rule’s author is never copied.',
      }),
    ),
  },
  {
    $id: 'CloneRule',
    additionalProperties: false,
    description: 'Optional: a clone with no body is credited to nobody.',
    examples: [{ created_by: { id: 'u-42', name: 'Grace Hopper' } }],
  },
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

export const ruleSchemas = [
  RuleRequest,
  RuleAuthInput,
  RuleAuth,
  RuleExecution,
  RuleResponse,
  Rule,
  CreateRuleBody,
  UpdateRuleBody,
  UpdateRuleMergePatch,
  RulePage,
  ReferencesBody,
  CloneRuleBody,
  RecordInput,
]
