import { isIP } from 'node:net'
import { Agent, type Dispatcher, request } from 'undici'
import { type AllowList, isForbiddenAddress, parseAllowList } from '../../net/address-policy.js'
import { createGuardedLookup } from '../../net/guarded-lookup.js'
import type { OutboundRequest } from './build-request.js'
import { checkProxiedDestination, createProxyDispatcher } from './proxy.js'

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
 * undici `request` over one keep-alive pool. Every connection's addresses are
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

  async function send(
    req: OutboundRequest,
    { timeoutMs }: { timeoutMs: number },
  ): Promise<SendResult> {
    const started = performance.now()
    const elapsed = () => Math.round(performance.now() - started)
    const url = new URL(req.url)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (isIP(host) && isForbiddenAddress(host, allow)) {
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
        return { status: null, headers: null, body: null, durationMs: elapsed(), error: refused }
      }
    }
    const signal = AbortSignal.timeout(timeoutMs)
    try {
      const res = await request(url, {
        method: req.method as Dispatcher.HttpMethod,
        headers: req.headers,
        body: req.body === '' ? undefined : req.body,
        dispatcher: agent,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      })
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(res.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
      }
      const body = await readCapped(res.body, options.responseBodyLimit)
      return { status: res.statusCode, headers, body, durationMs: elapsed(), error: null }
    } catch (err) {
      const e = err as Error & { code?: string }
      // undici's own headers and body timers run to the same deadline and may
      // fire a tick before the signal: the same timeout, said the same way.
      const timedOut =
        signal.aborted || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT'
      const message = timedOut
        ? `timed out after ${timeoutMs} ms`
        : `${e.code ? `${e.code}: ` : ''}${e.message}`
      return { status: null, headers: null, body: null, durationMs: elapsed(), error: message }
    }
  }

  return { send, close: () => agent.close() }
}

/** Reads at most `limit` bytes, then stops reading and drops the connection's remainder. */
async function readCapped(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    const buf = chunk as Buffer
    if (size + buf.length >= limit) {
      chunks.push(buf.subarray(0, limit - size))
      size = limit
      body.destroy()
      break
    }
    chunks.push(buf)
    size += buf.length
  }
  return Buffer.concat(chunks, size).toString('utf8')
}
