import type { FastifyInstance, FastifyReply, onSendHookHandler, RouteOptions } from 'fastify'
import { errors } from '../errors.js'

/**
 * The deprecation window of `/v1` (README, "Conventions"). Every deprecated
 * form still served was announced on DEPRECATED_ON and stays until SUNSET_ON
 * at least; a response that uses one says so in the headers of RFC 9745
 * (`Deprecation: @<unix seconds>`) and RFC 8594 (`Sunset: <HTTP date>`).
 */
export const DEPRECATED_ON = new Date('2026-12-05T00:00:00Z')
export const SUNSET_ON = new Date('2027-12-06T00:00:00Z')

const DEPRECATION = `@${DEPRECATED_ON.getTime() / 1000}`
const SUNSET = SUNSET_ON.toUTCString()
const LINK = '</docs>; rel="deprecation"; type="text/html"'

/** Says the answer uses a deprecated form (a route's own call, for forms a schema cannot mark). */
export function markDeprecated(reply: FastifyReply): void {
  reply.header('deprecation', DEPRECATION)
  reply.header('sunset', SUNSET)
  reply.header('link', LINK)
}

type Schema = Record<string, unknown>

/**
 * The operations (`DELETE /operator/workspaces/{workspaceId}/api-keys/{keyId}`)
 * whose successful answers may carry the headers, for the OpenAPI document.
 */
export const deprecatingOperations = new Set<string>([
  'GET /v1/rules',
  'GET /v1/rules/export.csv',
  'DELETE /operator/workspaces/{workspaceId}/api-keys/{keyId}',
])

const operationKey = (method: string, url: string) =>
  `${method} ${url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`

/** A name and its deprecated alias (`since` and `from`): either, not both. */
export function alias<T>(
  value: T | undefined,
  old: T | undefined,
  name: string,
  oldName: string,
  part: 'querystring' | 'body' = 'querystring',
) {
  if (value !== undefined && old !== undefined) {
    throw errors.validation(`${part}/${oldName}: deprecated alias of ${name}; send ${name} only`)
  }
  return value ?? old
}

/** Top-level property names marked `deprecated: true`, following a `$ref` to a shared schema. */
function deprecatedProperties(schema: unknown, shared: Map<string, Schema>): string[] {
  const resolved = resolve(schema, shared)
  const properties = resolved?.properties as Record<string, Schema> | undefined
  if (!properties) return []
  return Object.entries(properties)
    .filter(([, property]) => property?.deprecated === true)
    .map(([name]) => name)
}

function resolve(schema: unknown, shared: Map<string, Schema>): Schema | undefined {
  if (!schema || typeof schema !== 'object') return undefined
  const ref = (schema as Schema).$ref
  return typeof ref === 'string' ? shared.get(ref) : (schema as Schema)
}

/** Whether a schema (followed through `$ref`s, arrays and unions) holds a deprecated property. */
function holdsDeprecated(schema: unknown, shared: Map<string, Schema>, seen = new Set()): boolean {
  const resolved = resolve(schema, shared)
  if (!resolved || seen.has(resolved)) return false
  seen.add(resolved)
  if (resolved.deprecated === true) return true
  const children: unknown[] = [
    ...Object.values((resolved.properties as Schema | undefined) ?? {}),
    resolved.items,
    ...((resolved.anyOf as unknown[] | undefined) ?? []),
    ...((resolved.oneOf as unknown[] | undefined) ?? []),
  ]
  return children.some((child) => holdsDeprecated(child, shared, seen))
}

/**
 * Marks, with the headers above, every successful answer whose request sent a
 * deprecated query parameter or body property, or whose success schema holds a
 * deprecated field (a delivery's `status_label`): found from the route schemas,
 * so a new alias marked `deprecated: true` is announced with no more code.
 */
export function registerDeprecation(app: FastifyInstance, sharedSchemas: Schema[]): void {
  const shared = new Map(sharedSchemas.map((s) => [String(s.$id), s]))
  app.addHook('onRoute', (route: RouteOptions) => {
    const schema = route.schema as Schema | undefined
    if (!schema) return
    const query = deprecatedProperties(schema.querystring, shared)
    const body = deprecatedProperties(schema.body, shared)
    const responses = (schema.response ?? {}) as Record<string, unknown>
    const successes = new Set(
      Object.entries(responses)
        .filter(([status, response]) => /^2/.test(status) && holdsDeprecated(response, shared))
        .map(([status]) => Number(status)),
    )
    if (query.length === 0 && body.length === 0 && successes.size === 0) return
    for (const method of [route.method].flat())
      deprecatingOperations.add(operationKey(method, route.url))
    const hook: onSendHookHandler = (request, reply, payload, done) => {
      const status = reply.statusCode
      if (status < 300) {
        const sent = (names: string[], part: unknown) =>
          part !== null &&
          typeof part === 'object' &&
          names.some((name) => (part as Schema)[name] !== undefined)
        if (successes.has(status) || sent(query, request.query) || sent(body, request.body)) {
          markDeprecated(reply)
        }
      }
      done(null, payload)
    }
    const existing = route.onSend
    route.onSend = existing ? [...(Array.isArray(existing) ? existing : [existing]), hook] : hook
  })
}
