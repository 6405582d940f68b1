import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256
 * over `<msg id>.<unix seconds>.<body>`, keyed with the bytes of a
 * `whsec_<base64>` secret. During a rotation a request carries one signature
 * per secret, so receivers holding either secret accept it.
 */

const SECRET_PREFIX = 'whsec_'
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
/** How far a webhook-timestamp may be from now, either way (the spec's suggestion). */
export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60

export interface SignatureHeaders {
  'webhook-id': string
  'webhook-timestamp': string
  /** `v1,<base64>` for each secret, space-separated, current secret first. */
  'webhook-signature': string
  /**
   * `sha256=<hex>` of the raw body, for receivers that verify the simple way:
   * like `webhook-signature`, one per secret, space-separated, current first.
   */
  'x-hookline-signature': string
}

export interface SignRequestInput {
  msgId: string
  timestamp: Date
  /** The exact bytes sent, or text that will be sent as UTF-8. */
  body: string | Buffer
  /** `whsec_…` secrets, the current one first. */
  secrets: readonly string[]
}

export function signRequest({
  msgId,
  timestamp,
  body,
  secrets,
}: SignRequestInput): SignatureHeaders {
  const keys = secrets.map(secretKey)
  if (keys.length === 0) throw new TypeError('signRequest needs at least one secret')
  const seconds = String(Math.floor(timestamp.getTime() / 1000))
  // The signed content `<msg id>.<seconds>.<body>`, fed to each HMAC in two parts rather than copied into one buffer.
  const prefix = `${msgId}.${seconds}.`
  return {
    'webhook-id': msgId,
    'webhook-timestamp': seconds,
    'webhook-signature': keys
      .map((key) => `v1,${createHmac('sha256', key).update(prefix).update(body).digest('base64')}`)
      .join(' '),
    'x-hookline-signature': keys
      .map((key) => `sha256=${createHmac('sha256', key).update(body).digest('hex')}`)
      .join(' '),
  }
}

/** A new secret: `whsec_` and the base64 of 24 random bytes (192 bits), the spec's minimum. */
export function generateSigningSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(24).toString('base64')}`
}

/** The key bytes of a `whsec_` secret; throws on anything else, so a bad secret never signs. */
export function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : ''
  if (!BASE64.test(encoded)) throw new TypeError('a signing secret is "whsec_" followed by base64')
  return Buffer.from(encoded, 'base64')
}

export type IncomingHeaders = Record<string, string | string[] | undefined>

export interface VerifyInput {
  /** Request headers with lower-case names, as Node and Fastify give them. */
  headers: IncomingHeaders
  /** The raw body bytes as received: re-serialised JSON would not match. */
  body: string | Buffer
  secrets: readonly string[]
  now?: Date
  toleranceSeconds?: number
}

export type VerifyResult =
  | { ok: true; msgId: string; timestamp: Date }
  | { ok: false; reason: string }

/**
 * Checks an inbound Standard Webhooks request. Svix, the scheme's largest
 * sender, names the same headers `svix-*`; both are accepted. The reason
 * is for the call log: it names what failed, never a secret.
 */
export function verifyStandardWebhook({
  headers,
  body,
  secrets,
  now = new Date(),
  toleranceSeconds = TIMESTAMP_TOLERANCE_SECONDS,
}: VerifyInput): VerifyResult {
  const msgId = header(headers, 'id')
  const timestamp = header(headers, 'timestamp')
  const signatures = header(headers, 'signature')
  if (msgId === undefined || timestamp === undefined || signatures === undefined) {
    return {
      ok: false,
      reason: 'missing webhook-id, webhook-timestamp or webhook-signature header',
    }
  }
  if (!/^[0-9]{1,15}$/.test(timestamp)) {
    return { ok: false, reason: 'webhook-timestamp is not a Unix time in seconds' }
  }
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > toleranceSeconds) {
    return {
      ok: false,
      reason: `webhook-timestamp is more than ${toleranceSeconds} seconds from now`,
    }
  }
  const signed = signedContent(msgId, timestamp, body)
  const expected = secrets.map((secret) => hmac(secretKey(secret), signed))
  for (const candidate of signatures.split(' ')) {
    const [version, encoded] = candidate.split(',', 2)
    if (version !== 'v1' || encoded === undefined || !BASE64.test(encoded)) continue
    const given = Buffer.from(encoded, 'base64')
    // timingSafeEqual needs equal lengths; a length says nothing secret.
    if (expected.some((mac) => mac.length === given.length && timingSafeEqual(mac, given))) {
      return { ok: true, msgId, timestamp: new Date(Number(timestamp) * 1000) }
    }
  }
  return { ok: false, reason: 'no signature matches a signing secret' }
}

function header(
  headers: IncomingHeaders,
  name: 'id' | 'timestamp' | 'signature',
): string | undefined {
  const value = headers[`webhook-${name}`] ?? headers[`svix-${name}`]
  // A repeated header is ambiguous: which one was signed?
  return typeof value === 'string' ? value : undefined
}

function signedContent(msgId: string, seconds: string, body: string | Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`${msgId}.${seconds}.`),
    typeof body === 'string' ? Buffer.from(body) : body,
  ])
}

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest()
}
