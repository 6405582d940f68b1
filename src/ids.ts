import { randomBytes } from 'node:crypto'

// Crockford base32: no I, L, O, U, so ids survive being read aloud or retyped.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'

/**
 * A prefixed, time-ordered id (`ws_01jd…`): 48 bits of milliseconds then 80
 * random bits, ULID-style. Sorting ids sorts by creation time, which makes
 * "newest first" lists a primary-key scan and cursors a single id.
 */
export function newId(prefix: string, now = Date.now()): string {
  let out = ''
  let time = now
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[time % 32] + out
    time = Math.floor(time / 32)
  }
  const random = randomBytes(10)
  // 80 bits → 16 base32 characters, 5 bits at a time.
  let bits = 0
  let value = 0
  for (const byte of random) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(value >> bits) & 31]
    }
    value &= (1 << bits) - 1
  }
  return `${prefix}_${out}`
}

/** Random url-safe text with `bytes` bytes of entropy, for keys and tokens. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url')
}
