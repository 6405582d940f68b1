import { isUtf8 } from 'node:buffer'
import type { FastifyInstance } from 'fastify'
import { errors } from '../errors.js'

/**
 * The JSON body parser: Fastify's own (which refuses `__proto__` and
 * `constructor.prototype` keys), with checks of ours. Bytes that are not
 * UTF-8 are refused rather than decoded to U+FFFD and stored; a body refused
 * for a prototype key is told so, not that it is not JSON; and text holding
 * U+0000, which Postgres cannot store, is refused before anything is written.
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
      // Postgres stores no U+0000 in text or jsonb: refused here, before anything is written.
      if (!err && holdsNul(value)) {
        return done(errors.invalidJson('body: text may not hold U+0000 (NUL)'), undefined)
      }
      done(err, value)
    })
  })
}

function holdsNul(value: unknown): boolean {
  const stack = [value]
  while (stack.length > 0) {
    const next = stack.pop()
    if (typeof next === 'string') {
      if (next.includes('\u0000')) return true
    } else if (next && typeof next === 'object') {
      for (const [key, child] of Object.entries(next)) {
        if (key.includes('\u0000')) return true
        stack.push(child)
      }
    }
  }
  return false
}

function parsesPlainly(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
