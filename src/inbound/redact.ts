/**
 * Masks credentials in a call's headers and query before the call log stores
 * them. Known names are masked by name; any name that looks like it carries
 * a credential is masked too, since a missed secret is worse than a masked
 * correlation id.
 */

import { LOOKS_LIKE_CREDENTIAL, REDACTED } from '../security/credential-names.js'

export { REDACTED }

const ALWAYS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-hub-signature',
  'x-hub-signature-256',
  'x-shopify-hmac-sha256',
  'stripe-signature',
  'webhook-signature',
  'svix-signature',
  'x-api-key',
])

// A sender's signature is masked too: it proves nothing to a reader of the log.
const LOOKS_SECRET = new RegExp(`${LOOKS_LIKE_CREDENTIAL.source}|signature|hmac`, 'i')

export type HeaderRecord = Record<string, string | string[] | undefined>

/**
 * `redactHeaders` as JSON text, written straight from the headers: what the
 * call log stores for every call, without a masked copy of the headers
 * first. Whether a name is secret is remembered per name (senders repeat
 * the same few). The text may hold what PostgreSQL refuses (see json-safe.ts).
 */
export function redactedHeadersJson(
  headers: HeaderRecord,
  extraSecretHeaderNames: readonly string[] = [],
): string {
  let text = '{'
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || !Object.hasOwn(headers, name)) continue
    const lower = name.toLowerCase()
    const secret = secretHeader(lower, extraSecretHeaderNames)
    text += `${text.length > 1 ? ',' : ''}${JSON.stringify(name)}:${JSON.stringify(secret ? mask(lower, value) : value)}`
  }
  return `${text}}`
}

/** Whether a header (its lower-cased name) is masked: a known or credential-like name, or one of `extra`. */
function secretHeader(lower: string, extra: readonly string[]): boolean {
  return secretName(lower) || extra.some((name) => name.toLowerCase() === lower)
}

const secretNames = new Map<string, boolean>()

function secretName(lower: string): boolean {
  let secret = secretNames.get(lower)
  if (secret === undefined) {
    secret = ALWAYS.has(lower) || LOOKS_SECRET.test(lower)
    // Names are the sender's to choose: a flood of new ones starts the memory afresh.
    if (secretNames.size >= 1000) secretNames.clear()
    secretNames.set(lower, secret)
  }
  return secret
}

export function redactHeaders(
  headers: HeaderRecord,
  extraSecretHeaderNames: readonly string[] = [],
): HeaderRecord {
  const out: HeaderRecord = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    const lower = name.toLowerCase()
    const secret = secretHeader(lower, extraSecretHeaderNames)
    Object.defineProperty(out, name, {
      value: secret ? mask(lower, value) : value,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return out
}

/** Keeps the scheme of an Authorization value (`Basic`, `Bearer`): it says what the sender tried. */
function mask(name: string, value: string | string[]): string | string[] {
  if (Array.isArray(value)) return value.map((item) => mask(name, item) as string)
  if (name.endsWith('authorization')) {
    const scheme = /^([A-Za-z][\w-]*) /.exec(value)?.[1]
    if (scheme) return `${scheme} ${REDACTED}`
  }
  return REDACTED
}

/** The query with the named parameters (a `secret_query` verification's) masked. */
export function redactQuery(
  query: Record<string, string | string[] | undefined>,
  secretParams: readonly string[],
): Record<string, string | string[]> {
  const secret = new Set(secretParams)
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue
    const masked = secret.has(name)
      ? Array.isArray(value)
        ? value.map(() => REDACTED)
        : REDACTED
      : value
    Object.defineProperty(out, name, {
      value: masked,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return out
}
