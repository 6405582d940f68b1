/**
 * The parts a handler is made of — its response, actions, protection and the
 * view of its verification — each its own component. `handlers.ts` puts them
 * together; `handler-bodies.ts` holds what create and update take.
 */
import { type Static, Type } from 'typebox'
import { PARAMETER_PATH_PATTERN } from '../inbound/paths.js'
import { IdParam, Nullable, Timestamp } from './common.js'

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

export const CreatedBy = Type.Object(
  { id: Type.String({ maxLength: 200 }), name: Type.String({ maxLength: 200 }) },
  { additionalProperties: false, description: 'The host CRM user who made the handler.' },
)
