/**
 * TRUST_PROXY as Fastify's `trustProxy`: `false` (the socket's address is
 * the caller's), `true` (believe every X-Forwarded-For hop), a hop count, or
 * the addresses/CIDRs of your own proxies. Behind a load balancer this is
 * what makes per-address limits and the call log see real senders.
 */
export function trustProxyOption(
  text: string,
): boolean | string[] | ((address: string, hop: number) => boolean) {
  const value = text.trim().toLowerCase()
  if (value === 'true') return true
  if (value === 'false' || value === '') return false
  if (/^\d+$/.test(value)) {
    const hops = Number(value)
    return (_address, hop) => hop < hops
  }
  return value.split(/[\s,]+/).filter((entry) => entry !== '')
}
