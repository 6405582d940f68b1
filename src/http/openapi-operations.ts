import { ERROR_SCHEMA, errorDescriptions } from '../schemas/common.js'
import { deprecatingOperations } from './deprecation.js'
import { IDEMPOTENT_ROUTES } from './idempotency.js'
import { MERGE_PATCH } from './merge-patch.js'

const IDEMPOTENT = new Set(
  [...IDEMPOTENT_ROUTES, 'POST /v1/events'].map((route) => route.replace(/:(\w+)/g, '{$1}')),
)

const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' },
  description:
    'Makes the create safe to retry: the first answer is kept 24 hours, and the same request ' +
    'with the same key answers it again (with `Idempotent-Replayed: true`); another request with ' +
    'the key is refused with 409. On `POST /v1/events` it is the event’s `idempotency_key`.',
}

/**
 * What every operation of the OpenAPI document gets beyond its route schema:
 * a stable `operationId`, optional query parameters that have a default, and
 * the error answers any route of its kind can give (so generated clients know
 * them). Applied once to the whole document (see openapi.ts).
 */

/**
 * `METHOD /path` → operationId. Generated clients name their methods after
 * these, so they never change once published; a new route adds its own
 * (test/openapi.test.ts fails on a missing one).
 */
export const operationIds: Record<string, string> = {
  'GET /healthz': 'getLiveness',
  'GET /readyz': 'getReadiness',
  'GET /metrics': 'getMetrics',
  'POST /operator/workspaces': 'createWorkspace',
  'GET /operator/workspaces': 'listWorkspaces',
  'GET /operator/workspaces/{workspaceId}': 'getWorkspace',
  'PATCH /operator/workspaces/{workspaceId}': 'updateWorkspace',
  'DELETE /operator/workspaces/{workspaceId}': 'deleteWorkspace',
  'POST /operator/workspaces/{workspaceId}/api-keys': 'createApiKey',
  'GET /operator/workspaces/{workspaceId}/api-keys': 'listApiKeys',
  'DELETE /operator/workspaces/{workspaceId}/api-keys/{keyId}': 'revokeApiKey',
  'GET /v1/workspace': 'getCurrentWorkspace',
  'GET /v1/settings': 'getSettings',
  'PATCH /v1/settings': 'updateSettings',
  'GET /v1/settings/signing-secret': 'getSigningSecret',
  'POST /v1/settings/signing-secret/rotate': 'rotateSigningSecret',
  'PUT /v1/event-types/{name}': 'upsertEventType',
  'GET /v1/event-types/{name}': 'getEventType',
  'DELETE /v1/event-types/{name}': 'deleteEventType',
  'GET /v1/event-types': 'listEventTypes',
  'GET /v1/fields': 'listFields',
  'PUT /v1/fields': 'replaceFields',
  'POST /v1/rules': 'createRule',
  'GET /v1/rules': 'listRules',
  'GET /v1/rules/export.csv': 'exportRulesCsv',
  'GET /v1/rules/{ruleId}': 'getRule',
  'PATCH /v1/rules/{ruleId}': 'updateRule',
  'DELETE /v1/rules/{ruleId}': 'deleteRule',
  'POST /v1/rules/{ruleId}/clone': 'cloneRule',
  'POST /v1/rules/{ruleId}/enable': 'enableRule',
  'POST /v1/rules/{ruleId}/disable': 'disableRule',
  'PUT /v1/rules/{ruleId}/references': 'replaceRuleReferences',
  'POST /v1/rules/{ruleId}/preview': 'previewRule',
  'POST /v1/rules/{ruleId}/test': 'testRule',
  'POST /v1/rules/{ruleId}/execute': 'executeRule',
  'POST /v1/events': 'createEvent',
  'POST /v1/events/batch': 'createEventBatch',
  'GET /v1/events/{eventId}': 'getEvent',
  'GET /v1/deliveries': 'listDeliveries',
  'GET /v1/deliveries/{deliveryId}': 'getDelivery',
  'POST /v1/deliveries/{deliveryId}/resend': 'resendDelivery',
  'POST /v1/deliveries/{deliveryId}/cancel': 'cancelDelivery',
  'POST /v1/deliveries/retry-failed': 'retryFailedDeliveries',
  'POST /v1/rules/{ruleId}/mass-posts': 'createMassPost',
  'GET /v1/mass-posts/{massPostId}': 'getMassPost',
  'GET /v1/mass-posts/{massPostId}/preview': 'previewMassPost',
  'POST /v1/mass-posts/{massPostId}/start': 'startMassPost',
  'POST /v1/mass-posts/{massPostId}/cancel': 'cancelMassPost',
  'GET /v1/mass-posts/{massPostId}/items': 'listMassPostItems',
  'POST /v1/handlers': 'createHandler',
  'GET /v1/handlers': 'listHandlers',
  'POST /v1/handlers/sample-parameters': 'sampleHandlerParameters',
  'GET /v1/handlers/{handlerId}': 'getHandler',
  'PATCH /v1/handlers/{handlerId}': 'updateHandler',
  'DELETE /v1/handlers/{handlerId}': 'deleteHandler',
  'POST /v1/handlers/{handlerId}/enable': 'enableHandler',
  'POST /v1/handlers/{handlerId}/disable': 'disableHandler',
  'POST /v1/handlers/{handlerId}/rotate-token': 'rotateHandlerToken',
  'POST /v1/handlers/{handlerId}/rotate-secret': 'rotateHandlerSecret',
  'GET /v1/handlers/{handlerId}/calls': 'listHandlerCalls',
  'GET /v1/calls/{callId}': 'getCall',
  'GET /in/{token}': 'receiveInboundGet',
  'POST /in/{token}': 'receiveInboundPost',
}

export const errorResponse = (status: number) => ({
  description: errorDescriptions[status] ?? 'Error.',
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } } },
})

interface Parameter {
  in: string
  deprecated?: boolean
  required?: boolean
  schema?: { default?: unknown; [keyword: string]: unknown }
}

interface Operation {
  operationId?: string
  parameters?: Parameter[]
  requestBody?: unknown
  responses?: Record<string, unknown>
  tags?: string[]
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']

/** `GET /v1/rules/{ruleId}` for every operation of the document. */
export function* eachOperation(
  paths: Record<string, Record<string, unknown>>,
): Generator<[string, Operation, string]> {
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const operation = item[method] as Operation | undefined
      if (operation) yield [`${method.toUpperCase()} ${path}`, operation, path]
    }
  }
}

/**
 * The statuses a route answers without saying so itself: the API key (401),
 * the workspace's rate limit (429), a path id that names nothing (404), a body's size and
 * type (413, 415), a malformed query or body (400), and 500/503 from the
 * server itself. Probes and the public inbound endpoint document their own.
 */
function commonStatuses(path: string, op: Operation): number[] {
  if (!path.startsWith('/v1/') && !path.startsWith('/operator/')) return []
  const statuses = [401, 500, 503]
  if (path.startsWith('/v1/')) statuses.push(429)
  if (path.includes('{')) statuses.push(400, 404)
  if (op.parameters?.length) statuses.push(400)
  if (op.requestBody) statuses.push(400, 413, 415)
  return statuses
}

/** The rate limit's headers (src/http/rate-limit.ts), on every /v1 answer after the API key. */
export const rateLimitHeaders = {
  RateLimit: {
    description:
      'What is left of the workspace’s quota (IETF httpapi draft): `"workspace";r=<requests left>;t=<seconds until the window resets>`.',
    schema: { type: 'string' as const, examples: ['"workspace";r=5999;t=60'] },
  },
  'RateLimit-Policy': {
    description:
      'The workspace’s quota (IETF httpapi draft): `"workspace";q=<requests>;w=<window seconds>`.',
    schema: { type: 'string' as const, examples: ['"workspace";q=6000;w=60'] },
  },
  'Retry-After': {
    description: 'Seconds to wait before the next request.',
    schema: { type: 'integer' as const, examples: [42] },
  },
}

/** RFC 9745 and RFC 8594, on answers that use a deprecated form (src/http/deprecation.ts). */
export const deprecationHeaders = {
  Deprecation: {
    description:
      'The answer uses a deprecated form (a parameter, a field, a behaviour): `@<unix seconds>` of ' +
      'when it was deprecated (RFC 9745). See `Sunset` and the README’s Conventions.',
    schema: { type: 'string' as const, examples: ['@1796428800'] },
  },
  Sunset: {
    description: 'The deprecated form is served until at least this date (RFC 8594).',
    schema: { type: 'string' as const, examples: ['Mon, 06 Dec 2027 00:00:00 GMT'] },
  },
}

const MERGE_PATCH_SCHEMAS: Record<string, string> = {
  UpdateRule: 'UpdateRuleMergePatch',
  UpdateHandler: 'UpdateHandlerMergePatch',
}

export function completeOperations(paths: Record<string, Record<string, unknown>>): void {
  for (const [key, op, path] of eachOperation(paths)) {
    op.operationId = operationIds[key] ?? op.operationId
    if (IDEMPOTENT.has(key)) {
      op.parameters = [...(op.parameters ?? []), { ...idempotencyKey }]
      op.responses ??= {}
      op.responses['409'] ??= errorResponse(409)
    }
    // Every PATCH takes RFC 7396's merge patch (src/http/merge-patch.ts), the same members.
    const body = op.requestBody as { content?: Record<string, unknown> } | undefined
    if (key.startsWith('PATCH ') && body?.content?.['application/json']) {
      const json = body.content['application/json'] as { schema?: { $ref?: string } }
      // A schema of its own where nested objects merge (`UpdateRule` → `UpdateRuleMergePatch`).
      const own = MERGE_PATCH_SCHEMAS[json.schema?.$ref?.split('/').pop() ?? '']
      const patch = own ? { schema: { $ref: `#/components/schemas/${own}` } } : json
      body.content = { [MERGE_PATCH]: patch, ...body.content }
    }
    for (const parameter of op.parameters ?? []) {
      // A deprecated alias says so where generators look: on the parameter.
      if (parameter.schema?.deprecated === true) parameter.deprecated = true
      // Ajv fills a default in, so a caller may leave the parameter out.
      if (parameter.in === 'query' && parameter.schema?.default !== undefined) {
        parameter.required = false
      }
    }
    const responses = op.responses ?? {}
    for (const status of commonStatuses(path, op)) {
      responses[status] ??= errorResponse(status)
    }
    for (const [status, response] of Object.entries(responses)) {
      // Errors are JSON even where the success is not (`produces: ['text/csv']` labels them all).
      const { description, content } = response as {
        description?: string
        content?: Record<string, { schema?: { $ref?: string } }>
      }
      const schemas = Object.values(content ?? {}).map((media) => media.schema?.$ref)
      if (schemas.includes(`#/components/schemas/${ERROR_SCHEMA}`)) {
        responses[status] = {
          ...errorResponse(Number(status)),
          ...(description && { description }),
        }
      }
    }
    if (path.startsWith('/v1/')) {
      for (const [status, response] of Object.entries(responses)) {
        if (status === '401') continue
        const answer = response as { headers?: Record<string, unknown> }
        answer.headers ??= {}
        const { headers } = answer
        headers.RateLimit = { $ref: '#/components/headers/RateLimit' }
        headers['RateLimit-Policy'] = { $ref: '#/components/headers/RateLimit-Policy' }
        if (status === '429') headers['Retry-After'] = { $ref: '#/components/headers/Retry-After' }
      }
    }
    if (deprecatingOperations.has(key)) {
      for (const [status, response] of Object.entries(responses)) {
        if (!status.startsWith('2')) continue
        const answer = response as { headers?: Record<string, unknown> }
        answer.headers = {
          ...answer.headers,
          Deprecation: { $ref: '#/components/headers/Deprecation' },
          Sunset: { $ref: '#/components/headers/Sunset' },
        }
      }
    }
    op.responses = Object.fromEntries(
      Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)),
    )
  }
}
