import { type Dispatcher, ProxyAgent } from 'undici'
import type { AllowList } from './address-policy.js'
import { createGuardedLookup } from './guarded-lookup.js'

/**
 * OUTBOUND_PROXY_URL: every delivery leaves through one HTTP proxy, so
 * receivers can allow-list the proxy's static addresses. Plain-HTTP targets
 * are forwarded (absolute-form request), HTTPS targets tunnelled with CONNECT,
 * which is what common egress proxies permit by default.
 */
export function createProxyDispatcher(proxyUrl: string): Dispatcher {
  return new ProxyAgent({
    uri: proxyUrl,
    proxyTunnel: false,
    keepAliveTimeout: 10_000,
    keepAliveMaxTimeout: 60_000,
    connections: 64,
    pipelining: 1,
  })
}

/**
 * Through a proxy, the connection Hookline makes is to the proxy, so the
 * connect-time SSRF hook never sees the receiver. Resolve the receiver's name
 * here and apply the same policy to every address before the request goes.
 * The proxy resolves the name again; run it with its own deny list for
 * private ranges too, since a name can change between the two lookups.
 * Answers why the destination is refused, or null.
 */
export function checkProxiedDestination(
  allow: AllowList,
  hostname: string,
): Promise<string | null> {
  const lookup = createGuardedLookup(allow)
  return new Promise((resolve) => {
    lookup(hostname, { all: true }, (error) => {
      if (!error) return resolve(null)
      resolve(`${error.code ? `${error.code}: ` : ''}${error.message}`)
    })
  })
}
