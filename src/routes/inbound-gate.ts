import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Histogram } from 'prom-client'
import { TOKEN_PATTERN } from '../inbound/endpoint-token.js'
import type { LoadedHandler } from '../inbound/loaded-handler.js'
import type { InboundRuntime } from '../inbound/runtime.js'

/**
 * The cheap refusals of `/in/<token>`, made on the raw request before
 * Fastify builds anything for it: a token of the wrong shape or one known
 * to name no handler (404), a source address over its rate or over its
 * unknown-token lookups, a token over its own rate (429). What is refused
 * here costs a few map reads and one small pre-built answer: no request
 * object, hooks, log line or body read, so a flood buys less CPU than a
 * bare Fastify 404 costs. It is counted in the request metrics as the
 * route's own answers are.
 *
 * Anything else goes on to Fastify (`false`), with what was decided here
 * noted on the request, so the route does not count it against a limit
 * twice (`gateAdmission`). Requests injected without a socket (tests) skip
 * the gate; the route makes the same checks itself then. Behind a trusted
 * proxy the sender's address is the route's to work out (X-Forwarded-For),
 * so there the gate leaves every request to it.
 */
export function inboundGate(
  inbound: InboundRuntime,
  durations: Histogram<'route' | 'method' | 'status'>,
  requestId: (req: IncomingMessage) => string,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const observers = new Map<string, (seconds: number) => void>()
  const observe = (method: string, status: number, start: number) => {
    const key = `${method} ${status}`
    let observer = observers.get(key)
    if (!observer) {
      const child = durations.labels({ route: '/in/:token', method, status: String(status) })
      observer = (seconds) => child.observe(seconds)
      observers.set(key, observer)
    }
    observer((performance.now() - start) / 1000)
  }
  const answer = (req: IncomingMessage, res: ServerResponse, status: number, body: Answer) => {
    const start = performance.now()
    const headers: Record<string, string | number> = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': body.length,
      'x-request-id': requestId(req),
    }
    if (body.retryAfter) headers['retry-after'] = body.retryAfter
    // A body sent with a refused call is not read: a large one ends the connection instead.
    if (!bodyIsSmall(req)) headers.connection = 'close'
    res.writeHead(status, headers)
    res.end(body.text)
    observe(req.method as string, status, start)
    return true
  }

  return (req, res) => {
    const url = req.url as string
    if (!url.startsWith('/in/') || !ROUTED_METHODS.has(req.method as string)) return false
    const query = url.indexOf('?', 4)
    const token = query < 0 ? url.slice(4) : url.slice(4, query)
    // Anything the router would decode or not match is its to answer.
    if (!TOKEN_PATTERN.test(token)) {
      return /[/%]/.test(token) ? false : answer(req, res, 404, NOT_FOUND)
    }
    const ip = req.socket.remoteAddress ?? ''
    const addressWait = inbound.addressLimiter.take(ip)
    if (addressWait > 0) return answer(req, res, 429, tooMany(addressWait))
    const handler = inbound.cache.peek(token)
    if (handler === null) return answer(req, res, 404, NOT_FOUND)
    if (handler === undefined) {
      // Not known here: a lookup, which the route counts against the address's misses.
      const missWait = inbound.missLimiter.wait(ip)
      if (missWait > 0) return answer(req, res, 429, tooMany(missWait))
      admit(req, { handler: null })
      return false
    }
    const tokenWait = inbound.tokenLimiter.take(handler.id)
    if (tokenWait > 0) return answer(req, res, 429, tooMany(tokenWait))
    admit(req, { handler })
    return false
  }
}

/** What the gate decided for a request it let through: the address counted, and its handler if known. */
export interface GateAdmission {
  handler: LoadedHandler | null
}

const ADMITTED = Symbol('hookline.inboundGate')

function admit(req: IncomingMessage, admission: GateAdmission) {
  ;(req as IncomingMessage & { [ADMITTED]?: GateAdmission })[ADMITTED] = admission
}

/** The gate's admission of a request, or undefined when the gate did not see it. */
export function gateAdmission(req: IncomingMessage): GateAdmission | undefined {
  return (req as IncomingMessage & { [ADMITTED]?: GateAdmission })[ADMITTED]
}

// The methods /in/:token is routed for (routes/inbound.ts); others get Fastify's 404.
const ROUTED_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])
const SMALL_BODY = 16 * 1024

function bodyIsSmall(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  if (length === undefined) return req.headers['transfer-encoding'] === undefined
  return Number(length) <= SMALL_BODY
}

interface Answer {
  /** ASCII: as a string, Node writes it with the head in one write. */
  text: string
  length: number
  retryAfter?: string
}

const prebuilt = (body: object, retryAfter?: string): Answer => {
  const text = JSON.stringify(body)
  return { text, length: Buffer.byteLength(text), ...(retryAfter ? { retryAfter } : {}) }
}

// The same bodies as the route's (routes/inbound.ts), built once.
const NOT_FOUND = prebuilt({
  statusCode: 404,
  code: 'not_found',
  error: 'Not Found',
  message: 'no such endpoint',
})
const TOO_MANY = new Map<number, Answer>()

function tooMany(seconds: number): Answer {
  let built = TOO_MANY.get(seconds)
  if (!built) {
    built = prebuilt(
      {
        statusCode: 429,
        code: 'rate_limited',
        error: 'Too Many Requests',
        message: `slow down; retry in ${seconds} s`,
      },
      String(seconds),
    )
    if (TOO_MANY.size < 1000) TOO_MANY.set(seconds, built)
  }
  return built
}
