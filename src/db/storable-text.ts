// A UTF-16 surrogate not part of a pair: in `u` mode a pair is one code point, not two.
const LONE_SURROGATE = /\p{Cs}/u

/**
 * What in `text` PostgreSQL cannot store in text or jsonb, described for a
 * person (U+0000, or a lone UTF-16 surrogate); null when nothing.
 */
export function unstorableIn(text: string): string | null {
  if (text.includes('\u0000')) return 'U+0000 (NUL)'
  if (LONE_SURROGATE.test(text)) return 'a lone UTF-16 surrogate (\\ud800-\\udfff without its pair)'
  return null
}
