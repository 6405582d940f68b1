import { isIP } from 'node:net'
import { Agent, type Dispatcher, util } from 'undici'
import { type AllowList, isForbiddenAddress, parseAllowList } from './address-policy.js'
import { createGuardedLookup } from './guarded-lookup.js'
import { checkProxiedDestination, createProxyDispatcher } from './proxy.js'

/** What every outbound HTTP call says it is. */
export const USER_AGENT = 'Hookline/0.1 (+webhooks)'

/** An HTTP request ready to send: a delivery's, a notice's, or a handler's look-up. */
export interface OutboundRequest {
  method: string
  url: string
  headers: Record<string, string>
  body: string
  /** Headers the rule set that were left out (see net/reserved-headers.ts), for a warning. */
  droppedHeaders?: string[]
  /**
   * `url` parsed, when rendering had it: the sender's cap and the HTTP call
   * read it rather than parse the URL again. Never mutated; not sent between
   * threads (a render thread's request has none).
   */
  target?: URL
}

export interface SendResult {
  status: number | null
  headers: Record<string, string> | null
  body: string | null
  durationMs: number
  error: string | null
}

export interface Sender {
  send(request: OutboundRequest, options: { timeoutMs: number }): Promise<SendResult>
  close(): Promise<void>
}

/**
 * undici over one keep-alive pool (see `exchange`). Every connection's addresses are
 * checked against the SSRF policy when it is made (the lookup hook, plus a
 * check of literal IPs, which skip lookup); redirects are never followed; the
 * response body is read up to `bodyLimit` and the rest discarded; the whole
 * exchange has one deadline, so a trickling receiver is cut off.
 */
export function createHttpSender(options: {
  allowList: string
  responseBodyLimit: number
  dispatcher?: Dispatcher
  /** OUTBOUND_PROXY_URL: send through this HTTP proxy (see proxy.ts). */
  proxyUrl?: string | undefined
}): Sender {
  const allow: AllowList = parseAllowList(options.allowList)
  const agent =
    options.dispatcher ??
    (options.proxyUrl ? createProxyDispatcher(options.proxyUrl) : undefined) ??
    new Agent({
      connect: { lookup: createGuardedLookup(allow), timeout: 10_000 },
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      connections: 64,
      pipelining: 1,
    })

  // A literal address's verdict never changes for this allow list: checked once each.
  const literalVerdicts = new Map<string, boolean>()
  const forbiddenLiteral = (host: string) => {
    let forbidden = literalVerdicts.get(host)
    if (forbidden === undefined) {
      forbidden = isForbiddenAddress(host, allow)
      if (literalVerdicts.size >= 1024) literalVerdicts.clear()
      literalVerdicts.set(host, forbidden)
    }
    return forbidden
  }

  async function send(
    req: OutboundRequest,
    { timeoutMs }: { timeoutMs: number },
  ): Promise<SendResult> {
    const started = performance.now()
    const url = req.target ?? new URL(req.url)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (isIP(host) && forbiddenLiteral(host)) {
      return {
        status: null,
        headers: null,
        body: null,
        durationMs: 0,
        error: `address ${host} is not allowed (private, loopback or reserved)`,
      }
    }
    if (options.proxyUrl && !isIP(host)) {
      const refused = await checkProxiedDestination(allow, host)
      if (refused) {
        const durationMs = Math.round(performance.now() - started)
        return { status: null, headers: null, body: null, durationMs, error: refused }
      }
    }
    // undici's ProxyAgent writes `host` into the headers it is given: a copy
    // keeps the caller's request (what history shows) as it was.
    const sent = options.proxyUrl ? { ...req, headers: { ...req.headers } } : req
    return exchange(agent, url, sent, {
      timeoutMs,
      bodyLimit: options.responseBodyLimit,
      started,
    })
  }

  return { send, close: () => agent.close() }
}

/**
 * One HTTP exchange through undici's dispatcher, its handler written out: no
 * response stream, no AbortSignal and no promise per chunk, which cost the
 * worker more than the rest of the send. The response body is kept up to
 * `bodyLimit` bytes; reaching it drops the connection's remainder. One timer
 * is the whole exchange's deadline (connection, headers and body), so a
 * trickling receiver is cut off; undici's own headers and body timers, run to
 * the same deadline, may fire a tick before it and read the same.
 */
function exchange(
  agent: Dispatcher,
  url: URL,
  req: OutboundRequest,
  { timeoutMs, bodyLimit, started }: { timeoutMs: number; bodyLimit: number; started: number },
): Promise<SendResult> {
  return new Promise<SendResult>((resolve) => {
    let abort: ((err: Error) => void) | undefined
    let settled = false
    let timedOut = false
    let status = 0
    let headers: Record<string, string> = {}
    const chunks: Buffer[] = []
    let size = 0

    const settle = (result: SendResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(result)
    }
    const succeed = () =>
      settle({
        status,
        headers,
        body: Buffer.concat(chunks, size).toString('utf8'),
        durationMs: Math.round(performance.now() - started),
        error: null,
      })
    const fail = (err: Error & { code?: string }) => {
      const timeout =
        timedOut || err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT'
      settle({
        status: null,
        headers: null,
        body: null,
        durationMs: Math.round(performance.now() - started),
        error: timeout
          ? `timed out after ${timeoutMs} ms`
          : `${err.code ? `${err.code}: ` : ''}${err.message}`,
      })
    }
    const timer = setTimeout(() => {
      timedOut = true
      const reason = new Error(`timed out after ${timeoutMs} ms`)
      // Not yet started (waiting for a connection): aborted as it starts.
      abort?.(reason)
      fail(reason)
    }, timeoutMs)

    const handler: Dispatcher.DispatchHandler = {
      onConnect(abortRequest) {
        if (settled) return abortRequest(new Error(`timed out after ${timeoutMs} ms`))
        abort = abortRequest
      },
      onHeaders(statusCode, rawHeaders) {
        // 1xx: informational, the answer is still to come.
        if (statusCode < 200) return true
        status = statusCode
        headers = joinHeaders(rawHeaders)
        return true
      },
      onData(chunk) {
        if (settled) return false
        if (size + chunk.length >= bodyLimit) {
          chunks.push(chunk.subarray(0, bodyLimit - size))
          size = bodyLimit
          succeed()
          abort?.(new Error('response body limit reached'))
          return false
        }
        chunks.push(chunk)
        size += chunk.length
        return true
      },
      onComplete() {
        succeed()
      },
      onError(err) {
        fail(err)
      },
    }
    agent.dispatch(
      {
        origin: url.origin,
        path: url.search ? `${url.pathname}${url.search}` : url.pathname,
        method: req.method as Dispatcher.HttpMethod,
        headers: req.headers,
        body: req.body === '' ? undefined : req.body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      },
      handler,
    )
  })
}

/** Response headers as `request()` gives them, a repeated header's values joined with ", ". */
function joinHeaders(rawHeaders: Buffer[]): Record<string, string> {
  const parsed = util.parseHeaders(rawHeaders) as Record<string, string | string[] | undefined>
  const headers: Record<string, string> = {}
  for (const name in parsed) {
    const value = parsed[name]
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return headers
}
