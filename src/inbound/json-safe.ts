import { toWellFormed } from '../templates/values.js'

/**
 * Postgres text and jsonb refuse NUL characters and unpaired surrogates,
 * both of which a sender can put in a header, a key or a JSON string
 * (`"\u0000"`, `"\ud800"`). Everything a call stores passes through here
 * first, so a hostile call is recorded rather than failing to be.
 */
export function safeText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the character to remove
  const clean = text.includes('\u0000') ? text.replace(/\u0000/g, '') : text
  return toWellFormed(clean)
}

/** A deep copy with every string and key made safe; other values as they are. */
export function safeJson(value: unknown): unknown {
  if (typeof value === 'string') return safeText(value)
  if (Array.isArray(value)) return value.map(safeJson)
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      // defineProperty: a key named __proto__ stays data.
      Object.defineProperty(out, safeText(key), {
        value: safeJson(item),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return out
  }
  return value
}

// What JSON.stringify writes for a NUL or a lone surrogate (paired ones it
// writes as they are). A `\\u0000` that is really an escaped backslash also
// matches; it only costs the slow path.
const UNSAFE_ESCAPE = /\\u0000|\\ud[89a-f]/

/**
 * JSON text for a jsonb column, made safe; null stays SQL null. Almost every
 * value is safe already, so it is written once and only copied through
 * `safeJson` when the text shows a character Postgres would refuse.
 */
export function jsonb(value: unknown): string | null {
  if (value === null || value === undefined) return null
  const text = JSON.stringify(value)
  return UNSAFE_ESCAPE.test(text) ? JSON.stringify(safeJson(value)) : text
}

/**
 * JSON text written already (of `value()`), as `jsonb` would give it: made
 * safe through `safeJson` only when the text shows a character PostgreSQL
 * would refuse.
 */
export function jsonbText(text: string, value: () => unknown): string {
  return UNSAFE_ESCAPE.test(text) ? JSON.stringify(safeJson(value())) : text
}
