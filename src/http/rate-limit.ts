import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { errors } from '../errors.js'

interface Window {
  start: number
  count: number
}

/**
 * `/v1` requests per workspace: at most `quota` in each window of `windowSeconds`,
 * counted from the workspace's first request of the window. In memory and per
 * process: behind N API processes a workspace gets up to N × quota.
 *
 * Answers carry the IETF httpapi draft's headers (draft-ietf-httpapi-ratelimit-headers):
 * `RateLimit-Policy: "workspace";q=6000;w=60` and `RateLimit: "workspace";r=5999;t=60`
 * (r: requests left, t: seconds until the window resets); a refusal is 429
 * `rate_limited` with `Retry-After`.
 */
export class WorkspaceRateLimit {
  readonly #windows = new Map<string, Window>()
  readonly #windowMs: number
  readonly #policy: string
  #takes = 0

  constructor(
    readonly quota: number,
    readonly windowSeconds = 60,
  ) {
    this.#windowMs = windowSeconds * 1000
    this.#policy = `"workspace";q=${quota};w=${windowSeconds}`
  }

  /** Counts one request; answers what is left and when the window resets. */
  take(
    workspaceId: string,
    now = Date.now(),
  ): { allowed: boolean; remaining: number; reset: number } {
    if (++this.#takes % 1000 === 0) this.#sweep(now)
    let window = this.#windows.get(workspaceId)
    if (!window || now - window.start >= this.#windowMs) {
      window = { start: now, count: 0 }
      this.#windows.set(workspaceId, window)
    }
    const reset = Math.max(1, Math.ceil((window.start + this.#windowMs - now) / 1000))
    if (window.count >= this.quota) return { allowed: false, remaining: 0, reset }
    window.count += 1
    return { allowed: true, remaining: this.quota - window.count, reset }
  }

  /** onRequest hook, after the API key set `request.workspaceId`; a callback one: no promise per request. */
  hook() {
    return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      const { allowed, remaining, reset } = this.take(request.workspaceId)
      reply.header('ratelimit-policy', this.#policy)
      reply.header('ratelimit', `"workspace";r=${remaining};t=${reset}`)
      if (!allowed) {
        reply.header('retry-after', String(reset))
        return done(errors.rateLimited(this.quota, this.windowSeconds))
      }
      done()
    }
  }

  /** Windows that ended start afresh anyway. */
  #sweep(now: number): void {
    for (const [id, window] of this.#windows) {
      if (now - window.start >= this.#windowMs) this.#windows.delete(id)
    }
  }
}
