import { createHash } from 'node:crypto'
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onSendHookHandler,
  preHandlerHookHandler,
  RouteOptions,
} from 'fastify'
import { sql } from 'kysely'
import type { Db } from '../db/database.js'
import { errors } from '../errors.js'

/**
 * The POSTs that create something and take `Idempotency-Key` (as Stripe and
 * Svix do): the first answer to a key is kept 24 hours; the same request with
 * the same key gets that answer again (`Idempotent-Replayed: true`), another
 * request with it a 409. `POST /v1/events` is not here: its key is the
 * event's own `idempotency_key` (the header fills it in; see eventKeyFromHeader).
 */
export const IDEMPOTENT_ROUTES = new Set([
  'POST /operator/workspaces',
  'POST /operator/workspaces/:workspaceId/api-keys',
  'POST /v1/events/batch',
  'POST /v1/rules',
  'POST /v1/rules/:ruleId/clone',
  'POST /v1/rules/:ruleId/mass-posts',
  'POST /v1/handlers',
])

// As the event body's `idempotency_key` allows, visible ASCII only (it is echoed in messages).
const KEY = /^[\x21-\x7e]{1,200}$/
const HOLD = "interval '24 hours'"

declare module 'fastify' {
  interface FastifyRequest {
    /** Set while a keyed create is answered: where its answer is kept. */
    idempotency: { scope: string; key: string } | null
  }
}

const routeOf = (request: FastifyRequest) => `${request.method} ${request.routeOptions.url}`

function headerKey(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key']
  if (key === undefined) return undefined
  if (typeof key !== 'string' || !KEY.test(key)) {
    throw errors.validation('headers/idempotency-key: 1 to 200 visible ASCII characters')
  }
  return key
}

/** Same route, same path parameters, same body (key order aside): the same request. */
function hashOf(request: FastifyRequest): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value && typeof value === 'object'
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
          )
        : value
  return createHash('sha256')
    .update(JSON.stringify([routeOf(request), request.params, canonical(request.body ?? null)]))
    .digest('hex')
}

/**
 * The hooks go on the routes of IDEMPOTENT_ROUTES only (added as each route
 * is), so every other request runs neither: no route check, no promise.
 */
export function registerIdempotency(app: FastifyInstance, db: Db): void {
  app.decorateRequest('idempotency', null)

  // After validation and auth: a refused request keeps no key.
  const claim = async (request: FastifyRequest, reply: FastifyReply) => {
    const key = headerKey(request)
    if (key === undefined) return
    const scope = request.workspaceId ?? 'operator'
    const hash = hashOf(request)
    // A key older than 24 hours may name a new request.
    const claimed = await sql<{ key: string }>`
      insert into idempotency_keys as k (scope, key, request_hash)
      values (${scope}, ${key}, ${hash})
      on conflict (scope, key) do update
        set request_hash = excluded.request_hash, status_code = null, body = null,
            created_at = now()
        where k.created_at < now() - ${sql.raw(HOLD)}
      returning key`.execute(db)
    if (claimed.rows.length > 0) {
      request.idempotency = { scope, key }
      return
    }
    const first = await sql<{ request_hash: string; status_code: number | null; body: string }>`
      select request_hash, status_code, body from idempotency_keys
      where scope = ${scope} and key = ${key}`.execute(db)
    const row = first.rows[0]
    if (!row || row.request_hash !== hash) {
      throw errors.conflict(`Idempotency-Key ${key} was used for a different request`)
    }
    if (row.status_code === null) {
      throw errors.conflict(`a request with Idempotency-Key ${key} is still being answered`)
    }
    return reply
      .code(row.status_code)
      .header('content-type', 'application/json; charset=utf-8')
      .header('idempotent-replayed', 'true')
      .serializer((body: unknown) => body as string)
      .send(row.body)
  }

  // The answer is kept as sent; a 5xx frees the key, so a retry may succeed.
  const keep = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const held = request.idempotency
    if (!held) return payload
    request.idempotency = null
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
      await sql`delete from idempotency_keys where scope = ${held.scope} and key = ${held.key}`.execute(
        db,
      )
    } else {
      await sql`
        update idempotency_keys set status_code = ${reply.statusCode}, body = ${payload}
        where scope = ${held.scope} and key = ${held.key}`.execute(db)
    }
    return payload
  }

  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = [route.method].flat()
    if (!methods.some((method) => IDEMPOTENT_ROUTES.has(`${method} ${route.url}`))) return
    // First, as the app-wide hooks they were ran before a route's own.
    route.preHandler = [claim as preHandlerHookHandler, ...[route.preHandler ?? []].flat()]
    route.onSend = [keep as onSendHookHandler, ...[route.onSend ?? []].flat()]
  })
}

/**
 * `POST /v1/events`: the header is another way to send the event's
 * `idempotency_key`; both sent must agree.
 */
export function eventKeyFromHeader(request: FastifyRequest): void {
  const key = headerKey(request)
  if (key === undefined) return
  const body = request.body as { idempotency_key?: string }
  if (body.idempotency_key !== undefined && body.idempotency_key !== key) {
    throw errors.validation(
      'headers/idempotency-key: differs from body/idempotency_key; send one, or the same',
    )
  }
  body.idempotency_key = key
}
