import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { verifyStandardWebhook } from '../signing/signatures.js'
import { decodeUtf8 } from './utf8.js'
import {
  type StoredVerification,
  secretOf,
  type Verification,
  withSecret,
} from './verification-schema.js'

export {
  Verification,
  verificationHeaderNames,
  verificationQueryParams,
} from './verification-schema.js'

export interface InboundRequest {
  headers: Record<string, string | string[] | undefined>
  query: Record<string, string | string[] | undefined>
  rawBody: Buffer
  now: Date
}

export type VerifyResult = { ok: true; replayId?: string } | { ok: false; reason: string }

const accept = (replayId?: string): VerifyResult =>
  replayId ? { ok: true, replayId } : { ok: true }
const reject = (reason: string): VerifyResult => ({ ok: false, reason })

/**
 * Whether the call comes from the configured sender. Every comparison is
 * constant-time; a missing, malformed or wrong-length signature is a plain
 * rejection. Reasons name headers and what was wrong, never a secret, an
 * expected signature or the value sent. For Standard Webhooks `replayId` is
 * the message id: the caller forwards a message once, and its retries are duplicates.
 */
export function verifyInbound(config: StoredVerification, request: InboundRequest): VerifyResult {
  const { previous, ...current } = config
  const result = verifyWith(current, request)
  if (result.ok || !previous?.length || secretOf(current) === undefined) return result
  // During a rotation's overlap an old secret still verifies; each is tried, as
  // the current one was. The reason given is the current secret's.
  let accepted: VerifyResult | undefined
  for (const old of previous) {
    if (Date.parse(old.expires_at) <= request.now.getTime()) continue
    const tried = verifyWith(withSecret(current as Verification, old.secret), request)
    if (tried.ok) accepted ??= tried
  }
  return accepted ?? result
}

function verifyWith(config: Verification, request: InboundRequest): VerifyResult {
  try {
    switch (config.type) {
      case 'none':
        return accept()
      case 'hmac':
        return verifyHmac(config, request)
      case 'stripe':
        return verifyStripe(config, request)
      case 'standard_webhooks':
        return verifyStandardWebhooks(config, request)
      case 'basic':
        return verifyBasic(config, request)
      case 'secret_header':
        return verifySecretHeader(config, request)
      case 'secret_query':
        return verifySecretQuery(config, request)
      default:
        return reject('unknown verification type')
    }
  } catch {
    return reject('the request could not be verified')
  }
}

type Config<T extends Verification['type']> = Extract<Verification, { type: T }>

function verifyHmac(config: Config<'hmac'>, { headers, rawBody }: InboundRequest): VerifyResult {
  const sent = oneHeader(headers, config.header)
  if (typeof sent !== 'string') return reject(sent.reason)
  let text = sent.trim()
  const prefix = config.prefix ?? ''
  if (text.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) {
    return reject(`${config.header}: does not start with the expected prefix`)
  }
  text = text.slice(prefix.length)
  const signature = decodeSignature(text, config.encoding)
  if (!signature) return reject(`${config.header}: not a ${config.encoding} signature`)
  const expected = createHmac(config.algorithm, config.secret).update(rawBody).digest()
  return compareReason(config.header, [signature], expected) ?? accept()
}

function verifyStripe(
  config: Config<'stripe'>,
  { headers, rawBody, now }: InboundRequest,
): VerifyResult {
  const name = config.header ?? 'stripe-signature'
  const sent = oneHeader(headers, name)
  if (typeof sent !== 'string') return reject(sent.reason)
  let timestamp: string | undefined
  const signatures: Buffer[] = []
  for (const item of sent.split(',')) {
    const equals = item.indexOf('=')
    if (equals < 0) continue
    const key = item.slice(0, equals).trim()
    const value = item.slice(equals + 1).trim()
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,15}$/.test(value))
        return reject(`${name}: malformed t=`)
      timestamp = value
    } else if (key === 'v1') {
      const signature = decodeSignature(value, 'hex')
      if (!signature) return reject(`${name}: a v1 signature is not hex`)
      if (signatures.push(signature) > MAX_SIGNATURES) return reject(`${name}: too many signatures`)
    }
  }
  if (timestamp === undefined) return reject(`${name}: no t= timestamp`)
  if (signatures.length === 0) return reject(`${name}: no v1 signature`)
  const expected = createHmac('sha256', config.secret)
    .update(`${timestamp}.`)
    .update(rawBody)
    .digest()
  // Signature first: a forgery reads "does not match", a replayed real call "stale".
  return (
    compareReason(name, signatures, expected) ??
    staleReason(timestamp, now, config.toleranceSeconds) ??
    accept()
  )
}

/**
 * The scheme itself (and its Svix spelling) lives with the outbound signer, so
 * both directions share one reading of it. What is added here: header names
 * in any case, a `whsec_`-less secret, and a bound on the message id, which
 * the caller stores so that a message is forwarded once.
 */
function verifyStandardWebhooks(
  config: Config<'standard_webhooks'>,
  { headers, rawBody, now }: InboundRequest,
): VerifyResult {
  const lowercased: InboundRequest['headers'] = {}
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase()
    if (!key.startsWith('webhook-') && !key.startsWith('svix-')) continue
    // Two spellings of one name are as ambiguous as a repeated header.
    lowercased[key] = key in lowercased ? [] : value
  }
  const result = verifyStandardWebhook({
    headers: lowercased,
    body: rawBody,
    secrets: [config.secret.startsWith('whsec_') ? config.secret : `whsec_${config.secret}`],
    now,
    toleranceSeconds: config.toleranceSeconds,
  })
  if (!result.ok) return reject(result.reason)
  if (!/^[\x21-\x7e]{1,256}$/.test(result.msgId)) return reject('webhook-id: malformed')
  return accept(result.msgId)
}

function verifyBasic(config: Config<'basic'>, { headers }: InboundRequest): VerifyResult {
  const sent = oneHeader(headers, 'authorization')
  if (typeof sent !== 'string') return reject(sent.reason)
  const match = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(sent)
  const decoded = match ? decodeUtf8(Buffer.from(match[1]!, 'base64')) : null
  const colon = decoded?.indexOf(':') ?? -1
  if (!decoded || colon < 0) return reject('authorization: not Basic credentials')
  // Both compared, always, so the time taken does not say which one was wrong.
  const user = sameSecret(decoded.slice(0, colon), config.username)
  const password = sameSecret(decoded.slice(colon + 1), config.password)
  return user && password ? accept() : reject('authorization: the credentials do not match')
}

function verifySecretHeader(
  config: Config<'secret_header'>,
  { headers }: InboundRequest,
): VerifyResult {
  const sent = oneHeader(headers, config.header)
  if (typeof sent !== 'string') return reject(sent.reason)
  return sameSecret(sent.trim(), config.secret)
    ? accept()
    : reject(`${config.header}: does not match`)
}

function verifySecretQuery(
  config: Config<'secret_query'>,
  { query }: InboundRequest,
): VerifyResult {
  const sent = Object.hasOwn(query, config.param) ? query[config.param] : undefined
  if (sent === undefined) return reject(`query parameter ${config.param}: missing`)
  if (typeof sent !== 'string')
    return reject(`query parameter ${config.param}: sent more than once`)
  return sameSecret(sent, config.secret)
    ? accept()
    : reject(`query parameter ${config.param}: does not match`)
}

const MAX_SIGNATURES = 16
const MAX_SIGNATURE_CHARS = 1024

/** The one value of a header, matched without case; absent or repeated is a reason. */
function oneHeader(headers: InboundRequest['headers'], name: string): string | { reason: string } {
  const wanted = name.toLowerCase()
  const values: string[] = []
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() !== wanted) continue
    const value = headers[key]
    if (value !== undefined) values.push(...(Array.isArray(value) ? value : [value]))
  }
  if (values.length === 0) return { reason: `${name}: missing` }
  if (values.length > 1) return { reason: `${name}: sent more than once` }
  return values[0]!
}

/** The signature's bytes, or null when the text is not strictly that encoding. */
function decodeSignature(text: string, encoding: 'hex' | 'base64'): Buffer | null {
  if (text.length === 0 || text.length > MAX_SIGNATURE_CHARS) return null
  if (encoding === 'hex') {
    return /^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0 ? Buffer.from(text, 'hex') : null
  }
  // Standard or URL-safe alphabet, padding optional: senders differ.
  const standard = text.replace(/-/g, '+').replace(/_/g, '/')
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(standard) || standard.replace(/=+$/, '').length % 4 === 1) {
    return null
  }
  return Buffer.from(standard, 'base64')
}

/** Null when one of the signatures matches; otherwise why none did. */
function compareReason(name: string, signatures: Buffer[], expected: Buffer): VerifyResult | null {
  let rightLength = false
  let matched = false
  for (const signature of signatures) {
    if (signature.length !== expected.length) continue
    rightLength = true
    // No early exit: every candidate costs the same, matched or not.
    if (timingSafeEqual(signature, expected)) matched = true
  }
  if (matched) return null
  return reject(
    rightLength ? `${name}: signature does not match` : `${name}: signature has the wrong length`,
  )
}

function staleReason(timestamp: string, now: Date, toleranceSeconds = 300): VerifyResult | null {
  const age = Math.abs(now.getTime() / 1000 - Number(timestamp))
  return age > toleranceSeconds
    ? reject(`timestamp is outside the ${toleranceSeconds} s tolerance`)
    : null
}

/** Constant-time equality of two strings of any lengths: their digests are compared. */
function sameSecret(sent: string, secret: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest()
  return timingSafeEqual(digest(sent), digest(secret))
}
