import dns, { type LookupAddress, type LookupAllOptions } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import { buildConnector } from 'undici'
import { type AllowList, forbiddenReason } from './address-policy.js'

/**
 * The address policy, applied when connecting: to every address a name
 * resolves to, at the moment it is resolved, so a name that resolved to a
 * public address when the rule was saved (or a second ago: DNS rebinding)
 * cannot reach a private one now.
 */

export class AddressNotAllowedError extends Error {
  override name = 'AddressNotAllowedError'
  readonly code = 'EADDRNOTALLOWED'
  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string,
  ) {
    const target = host === address ? address : `${host} (${address})`
    super(`refusing to connect to ${target}: a ${reason} address, not in the allowed list`)
  }
}

export type Resolver = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void

/**
 * A `lookup` for `net.connect` (or undici's `connect: { lookup }`) that
 * resolves every address of the name and fails with `AddressNotAllowedError`
 * if any is forbidden: a name with one private answer among public ones is
 * refused whole, since the connection could go to any of them.
 *
 * Node does not call `lookup` for a literal IP host; use
 * `createGuardedConnector` with undici, which checks those too.
 */
export function createGuardedLookup(
  allow: AllowList,
  resolve: Resolver = dns.lookup,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, [])
      if (addresses.length === 0) {
        return callback(
          Object.assign(new Error(`${hostname} has no addresses`), { code: 'ENOTFOUND' }),
          [],
        )
      }
      for (const { address } of addresses) {
        const reason = forbiddenReason(address, allow)
        if (reason) return callback(new AddressNotAllowedError(hostname, address, reason), [])
      }
      if (options.all) return callback(null, addresses)
      const [first] = addresses as [LookupAddress]
      callback(null, first.address, first.family)
    })
  }
}

/**
 * An undici connector (`new Agent({ connect: createGuardedConnector(allow) })`)
 * that refuses forbidden literal IPs itself and resolves names through the
 * guarded lookup. The WHATWG URL parser has already turned `127.1`,
 * `2130706433`, `0177.0.0.1` or `0x7f.1` into `127.0.0.1` by then.
 */
export function createGuardedConnector(
  allow: AllowList,
  options: buildConnector.BuildOptions = {},
  resolve?: Resolver,
): buildConnector.connector {
  const connect = buildConnector({ ...options, lookup: createGuardedLookup(allow, resolve) })
  return (target, callback) => {
    const host = target.hostname.replace(/^\[(.*)\]$/, '$1')
    const reason = isIP(host) ? forbiddenReason(host, allow) : null
    if (reason) {
      queueMicrotask(() => callback(new AddressNotAllowedError(host, host, reason), null))
      return
    }
    connect(target, callback)
  }
}
