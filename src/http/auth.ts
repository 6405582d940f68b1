import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
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

/** onRequest hook for /v1: a live API key sets `request.workspaceId`, anything else is 401. */
export function workspaceAuth(apiKeys: ApiKeyCache) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const key = bearer(request)
    // Cheap shape check first, so garbage never costs a query.
    if (!key || !/^hl_[0-9a-z]{8}_[\w-]{32}$/.test(key)) throw errors.unauthorized()
    const workspaceId = await apiKeys.authenticate(key)
    if (!workspaceId) throw errors.unauthorized()
    request.workspaceId = workspaceId
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
