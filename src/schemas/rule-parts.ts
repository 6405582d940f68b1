/**
 * The parts a rule is made of — its request, credentials, execution and
 * response handling — each its own component. `rules.ts` puts them together.
 */
import { type Static, Type } from 'typebox'
import { FieldKey } from './catalog.js'
import { Nullable } from './common.js'

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
