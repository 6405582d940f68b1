import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { ApiKeyCache } from '../api-keys/api-key-cache.js'
import { errors } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated workspace; set on every /v1 route, scope every query by it. */
    workspaceId: string
  }
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (!header) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

const KEY_SHAPE = /^hl_[0-9a-z]{8}_[\w-]{32}$/

/**
 * onRequest hook for /v1: a live API key sets `request.workspaceId`, anything
 * else is 401. A callback hook, not an async one: a key this process
 * remembers (nearly every request) is answered synchronously, with no
 * promise; only a look-up waits.
 */
export function workspaceAuth(apiKeys: ApiKeyCache) {
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const key = bearer(request)
    // Cheap shape check first, so garbage never costs a query.
    if (!key || !KEY_SHAPE.test(key)) return done(errors.unauthorized())
    const remembered = apiKeys.remembered(key)
    if (remembered) {
      request.workspaceId = remembered
      return done()
    }
    apiKeys.authenticate(key).then(
      (workspaceId) => {
        if (!workspaceId) return done(errors.unauthorized())
        request.workspaceId = workspaceId
        done()
      },
      (error: Error) => done(error),
    )
  }
}

/** onRequest hook for /operator: compares hashes in constant time. */
export function operatorAuth(operatorToken: string | undefined) {
  const expected = operatorToken ? sha256(operatorToken) : undefined
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    if (!expected) throw errors.operatorDisabled()
    const token = bearer(request)
    if (!token || !timingSafeEqual(sha256(token), expected)) throw errors.operatorUnauthorized()
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}
