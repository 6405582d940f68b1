import { BlockList, isIP } from 'node:net'

/**
 * Which addresses outbound requests may reach. A rule's URL is chosen by a
 * tenant, so without this policy it could reach the service's own network:
 * loopback, private ranges, cloud metadata endpoints. The operator may allow
 * some ranges back (tests, on-premise receivers).
 */

export interface AllowList {
  /** The CIDRs as configured, for messages and logs. */
  readonly entries: readonly string[]
  readonly blockList: BlockList
}

type Family = 'ipv4' | 'ipv6'

/** `'127.0.0.1/32, ::1/128'`: CIDRs or single addresses, separated by commas or spaces. Throws on a bad entry. */
export function parseAllowList(text: string): AllowList {
  const entries = text.split(/[\s,]+/).filter((entry) => entry !== '')
  const blockList = new BlockList()
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/')
    const family = familyOf(address)
    const bits = family === 'ipv4' ? 32 : 128
    const length = prefix === undefined ? bits : Number(prefix)
    if (!family || extra !== undefined || !/^[0-9]{1,3}$/.test(prefix ?? '0') || length > bits) {
      throw new TypeError(`"${entry}" is not an IP address or CIDR range`)
    }
    blockList.addSubnet(address, length, family)
  }
  return { entries, blockList }
}

const FORBIDDEN: [reason: string, cidrs: string[]][] = [
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['unspecified', ['0.0.0.0/8', '::/128']],
  // Before 'private': fd00:ec2::254 (AWS) sits inside fc00::/7.
  [
    'cloud metadata',
    ['169.254.169.254/32', '168.63.129.16/32', '100.100.100.200/32', 'fd00:ec2::254/128'],
  ],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10']],
  ['carrier-grade NAT', ['100.64.0.0/10']],
  ['multicast', ['224.0.0.0/4', 'ff00::/8']],
  [
    'reserved',
    [
      '192.0.0.0/24', // IETF protocol assignments (Oracle Cloud metadata is 192.0.0.192)
      '192.0.2.0/24', // documentation
      '192.88.99.0/24', // 6to4 relay anycast
      '198.18.0.0/15', // benchmarking
      '198.51.100.0/24', // documentation
      '203.0.113.0/24', // documentation
      '240.0.0.0/4', // reserved, and 255.255.255.255 broadcast
      '100::/64', // discard-only
      '2001::/23', // IETF protocol assignments, Teredo
      '2001:db8::/32', // documentation
      '3fff::/20', // documentation
      '64:ff9b:1::/48', // local-use NAT64
      'fec0::/10', // site-local, deprecated
    ],
  ],
]

const forbiddenLists = FORBIDDEN.map(([reason, cidrs]) => {
  const list = new BlockList()
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/') as [string, string]
    list.addSubnet(address, Number(prefix), familyOf(address) as Family)
  }
  return { reason, list }
})

/**
 * Why an address may not be reached (`'loopback'`, `'private'`, …), or null
 * when it may. An IPv6 address carrying an IPv4 one (mapped `::ffff:a.b.c.d`,
 * NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, IPv4-compatible `::a.b.c.d`) is
 * judged by that IPv4 address, where the packets end up. IPv6 outside global
 * unicast (2000::/3) is refused. Anything not an IP address is refused.
 */
export function forbiddenReason(ip: string, allow: AllowList): string | null {
  const address = ip.replace(/%.*$/, '') // a zone id (fe80::1%eth0) names an interface, not an address
  const family = familyOf(address)
  if (!family) return 'not an IP address'
  if (allow.blockList.check(address, family)) return null
  const direct = listedReason(address, family)
  if (family === 'ipv4' || direct === 'loopback' || direct === 'unspecified') return direct
  const bytes = ipv6Bytes(address)
  const embedded = embeddedIpv4(bytes)
  if (embedded !== undefined) {
    if (allow.blockList.check(embedded, 'ipv4')) return null
    const reason = listedReason(embedded, 'ipv4')
    return reason && `${reason} (IPv4 ${embedded} inside IPv6)`
  }
  if (direct) return direct
  return (bytes[0]! & 0xe0) === 0x20 ? null : 'reserved'
}

export function isForbiddenAddress(ip: string, allow: AllowList): boolean {
  return forbiddenReason(ip, allow) !== null
}

function listedReason(address: string, family: Family): string | null {
  return forbiddenLists.find(({ list }) => list.check(address, family))?.reason ?? null
}

function familyOf(address: string): Family | undefined {
  const version = isIP(address)
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined
}

/** The 16 bytes of a valid IPv6 address (as `isIP` accepts it, without zone id). */
function ipv6Bytes(address: string): Uint8Array {
  let text = address
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const groups = (part: string | undefined) => (part ? part.split(':') : [])
  const before = groups(head)
  const after = groups(tail)
  const all = [...before, ...Array(8 - before.length - after.length).fill('0'), ...after]
  const bytes = new Uint8Array(16)
  all.forEach((group, i) => {
    const value = Number.parseInt(group, 16)
    bytes[2 * i] = value >> 8
    bytes[2 * i + 1] = value & 0xff
  })
  return bytes
}

function embeddedIpv4(b: Uint8Array): string | undefined {
  const zero = (from: number, to: number) => b.subarray(from, to).every((byte) => byte === 0)
  const v4 = (at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12) // ::ffff:a.b.c.d, mapped
  if (zero(0, 12)) return v4(12) // ::a.b.c.d, IPv4-compatible (deprecated)
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return v4(12) // ::ffff:0:a.b.c.d, SIIT
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4(12) // 64:ff9b::/96
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2) // 2002::/16, 6to4
  return undefined
}

/**
 * Save-time checks of a rule's URL (or URL template): http or https, no
 * credentials in it, and a literal IP host (or `localhost`) that the policy
 * allows. Names are checked again when connecting, where it counts.
 * Returns the problem, or null.
 */
export function checkUrlForSave(url: string, allow: AllowList): string | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'not a valid URL'
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return `scheme ${parsed.protocol.slice(0, -1)} is not allowed; use http or https`
  }
  if (parsed.username !== '' || parsed.password !== '') {
    return 'credentials in the URL are not allowed; use the authentication settings'
  }
  if (parsed.port === '0') return 'port 0 is not allowed'
  // The URL parser has already turned 127.1, 2130706433 and 0x7f.1 into 127.0.0.1.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
  // `localhost.` is the same name, fully qualified: resolvers answer it alike.
  const name = host.replace(/\.$/, '')
  const isLocalhost = name === 'localhost' || name.endsWith('.localhost')
  const address = isLocalhost ? '127.0.0.1' : host
  if (!isLocalhost && familyOf(host) === undefined) return null
  const reason = forbiddenReason(address, allow)
  return reason && `${host} is a ${reason} address, which outbound requests may not reach`
}
