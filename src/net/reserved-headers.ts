/**
 * Request headers that steer routing or framing: the HTTP client sets them
 * from the URL, the body and the connection (and the proxy from
 * OUTBOUND_PROXY_URL). One set by a tenant could send the request to another
 * virtual host, desynchronise the connection, or break every send through the
 * proxy, so rules may not set them (refused at save, dropped at send).
 */
const RESERVED = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'keep-alive',
  'expect',
])

export function isReservedRequestHeader(name: string): boolean {
  const lower = name.toLowerCase()
  return RESERVED.has(lower) || lower.startsWith('proxy-')
}

/** Why a rule may not set `name`, for a 400 message. */
export function reservedHeaderProblem(name: string): string | null {
  if (!isReservedRequestHeader(name)) return null
  return `${name} steers routing or framing, which Hookline sets from the URL, the body and the connection; a rule may not set it`
}
