import { type Static, Type } from 'typebox'
import type { ConditionGroup } from '../conditions/condition-schema.js'
import { EventTypeName } from './catalog.js'
import { IdParam, mergePatchOf, Nullable, Timestamp } from './common.js'
import { RecordInput } from './rule-actions.js'
import { RuleAuth, RuleAuthInput, RuleExecution, RuleRequest, RuleResponse } from './rule-parts.js'

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
