import { randomBytes, randomFillSync } from 'node:crypto'

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
  const random = randomTen()
  // 80 bits → 16 base32 characters, 5 bits at a time.
  let bits = 0
  let value = 0
  for (let i = random; i < random + 10; i++) {
    value = (value << 8) | (pool[i] as number)
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(value >> bits) & 31]
    }
    value &= (1 << bits) - 1
  }
  return `${prefix}_${out}`
}

// Ids are made by the thousand per second (an event batch, its deliveries and
// jobs): their random bytes come from one buffer filled 4 KiB at a time rather
// than one small allocation and fill each. Ids are not secrets (tokens and
// keys use randomToken).
const pool = Buffer.alloc(4096)
let poolAt = pool.length

/** Where the next 10 unused random bytes start in `pool`. */
function randomTen(): number {
  if (poolAt + 10 > pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  poolAt += 10
  return poolAt - 10
}

/** Random url-safe text with `bytes` bytes of entropy, for keys and tokens. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url')
}
