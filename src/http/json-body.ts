import { isUtf8 } from 'node:buffer'
import type { FastifyInstance } from 'fastify'
import { unstorableIn } from '../db/storable-text.js'
import { errors } from '../errors.js'
import { isMergePatch, MERGE_PATCH } from './merge-patch.js'

/**
 * The JSON body parser: Fastify's own (which refuses `__proto__` and
 * `constructor.prototype` keys), with checks of ours. Bytes that are not
 * UTF-8 are refused rather than decoded to U+FFFD and stored; a body refused
 * for a prototype key is told so, not that it is not JSON; and text Postgres
 * cannot store is refused before anything is written: U+0000, and a lone
 * surrogate (`"\ud800"` without its pair, which JSON's escapes can spell but
 * no UTF-8 can). Nesting deeper than MAX_JSON_DEPTH is refused too, naming
 * the path: every later step (schema validation, JSON.stringify on the way
 * to Postgres, condition and template walks) may recurse, and a stack
 * overflowed by a body is a 500 the caller cannot fix.
 */
export function registerJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  // RFC 7396's merge patch is JSON too; only PATCH takes it (src/http/merge-patch.ts).
  const types = ['application/json', MERGE_PATCH]
  app.addContentTypeParser(types, { parseAs: 'buffer' }, (request, raw, done) => {
    if (request.method !== 'PATCH' && isMergePatch(request.headers['content-type'])) {
      return done(errors.unsupportedMediaType(MERGE_PATCH), undefined)
    }
    const bytes = raw as Buffer
    // A body-less POST or DELETE labelled JSON (many clients always send the
    // header) has no body; a route that needs one says so in its validation.
    if (bytes.length === 0) return done(null, undefined)
    if (!isUtf8(bytes)) return done(errors.invalidJson('body: not valid UTF-8'), undefined)
    const text = bytes.toString('utf8')
    parse(request, text, (err, value) => {
      if (err && parsesPlainly(text)) {
        return done(
          errors.invalidJson('body: a "__proto__" or "constructor.prototype" key is not allowed'),
          undefined,
        )
      }
      if (err) return done(err, undefined)
      const refused = mayRefuse(text, value) ? checkBody(value) : null
      if (refused) return done(refused, undefined)
      done(null, value)
    })
  })
}

export const MAX_JSON_DEPTH = 64

// Valid UTF-8 cannot spell U+0000 inside a JSON string (JSON.parse refuses
// raw control characters) nor a surrogate: only these escapes can.
const UNSTORABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/

/**
 * Whether `checkBody` could refuse the body: only when the text holds an
 * escape that spells unstorable text, or the value nests MAX_JSON_DEPTH
 * deep. Both found without building a frame per value, so a plain body (all
 * but the odd one) is never walked twice; `checkBody` then finds the path.
 */
function mayRefuse(text: string, value: unknown): boolean {
  return UNSTORABLE_ESCAPE.test(text) || nestsTooDeep(value, 0)
}

// Recursion stops at MAX_JSON_DEPTH, so no body can overflow the stack here.
function nestsTooDeep(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object') return false
  if (depth >= MAX_JSON_DEPTH) return true
  if (Array.isArray(value)) {
    for (const item of value) if (nestsTooDeep(item, depth + 1)) return true
    return false
  }
  for (const key in value) {
    if (nestsTooDeep((value as Record<string, unknown>)[key], depth + 1)) return true
  }
  return false
}

interface Frame {
  value: unknown
  key: string | number | null
  parent: Frame | null
  depth: number
}

/**
 * Why a parsed body is refused: nesting past MAX_JSON_DEPTH, or text Postgres
 * cannot store; null when neither. Iterative, so a deep body cannot
 * overflow the stack here; paths are spelled only for the answer.
 */
function checkBody(value: unknown) {
  const stack: Frame[] = [{ value, key: null, parent: null, depth: 0 }]
  while (stack.length > 0) {
    const frame = stack.pop() as Frame
    const next = frame.value
    if (typeof next === 'string') {
      const found = unstorableIn(next)
      if (found) return errors.invalidJson(`${pathOf(frame)}: text may not hold ${found}`)
    } else if (next && typeof next === 'object') {
      if (frame.depth >= MAX_JSON_DEPTH) {
        return errors.tooDeep(`${pathOf(frame)}: nested deeper than ${MAX_JSON_DEPTH} levels`)
      }
      if (Array.isArray(next)) {
        for (let i = 0; i < next.length; i++)
          stack.push({ value: next[i], key: i, parent: frame, depth: frame.depth + 1 })
        continue
      }
      for (const key of Object.keys(next)) {
        const found = unstorableIn(key)
        if (found) return errors.invalidJson(`${pathOf(frame)}: text may not hold ${found}`)
        const child = (next as Record<string, unknown>)[key]
        stack.push({ value: child, key, parent: frame, depth: frame.depth + 1 })
      }
    }
  }
  return null
}

const MAX_SHOWN_PATH = 200

/** `body.record.fields.a[2]`, its middle cut out when long. */
function pathOf(frame: Frame): string {
  const parts: string[] = []
  for (let at: Frame | null = frame; at?.key != null; at = at.parent)
    parts.push(typeof at.key === 'number' ? `[${at.key}]` : `.${at.key}`)
  const path = `body${parts.reverse().join('')}`
  if (path.length <= MAX_SHOWN_PATH) return path
  return `${path.slice(0, MAX_SHOWN_PATH / 2)}…${path.slice(-MAX_SHOWN_PATH / 2)}`
}

function parsesPlainly(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
