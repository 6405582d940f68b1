import { isUtf8 } from 'node:buffer'
import type { FastifyInstance } from 'fastify'
import { errors } from '../errors.js'

/**
 * The JSON body parser: Fastify's own (which refuses `__proto__` and
 * `constructor.prototype` keys), with checks of ours. Bytes that are not
 * UTF-8 are refused rather than decoded to U+FFFD and stored; a body refused
 * for a prototype key is told so, not that it is not JSON; and text Postgres
 * cannot store is refused before anything is written: U+0000, and a lone
 * surrogate (`"\ud800"` without its pair, which JSON's escapes can spell but
 * no UTF-8 can).
 */
export function registerJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) => {
    const bytes = raw as Buffer
    if (!isUtf8(bytes)) return done(errors.invalidJson('body: not valid UTF-8'), undefined)
    const text = bytes.toString('utf8')
    parse(request, text, (err, value) => {
      if (err && parsesPlainly(text)) {
        return done(
          errors.invalidJson('body: a "__proto__" or "constructor.prototype" key is not allowed'),
          undefined,
        )
      }
      const refused = err ? null : unstorableText(value)
      if (refused) return done(errors.invalidJson(`body: text may not hold ${refused}`), undefined)
      done(err, value)
    })
  })
}

// A UTF-16 surrogate not part of a pair: in `u` mode a pair is one code point, not two.
const LONE_SURROGATE = /\p{Cs}/u

/** What in a parsed body Postgres cannot store in text or jsonb, described; null when nothing. */
function unstorableText(value: unknown): string | null {
  const stack = [value]
  while (stack.length > 0) {
    const next = stack.pop()
    if (typeof next === 'string') {
      const found = unstorableIn(next)
      if (found) return found
    } else if (next && typeof next === 'object') {
      for (const [key, child] of Object.entries(next)) {
        const found = unstorableIn(key)
        if (found) return found
        stack.push(child)
      }
    }
  }
  return null
}

function unstorableIn(text: string): string | null {
  if (text.includes('\u0000')) return 'U+0000 (NUL)'
  if (LONE_SURROGATE.test(text)) return 'a lone UTF-16 surrogate (\\ud800-\\udfff without its pair)'
  return null
}

function parsesPlainly(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
