import {
  type BodyLimits,
  DEFAULT_BODY_LIMITS,
  type Parsed,
  refuse,
} from '../formats/body-limits.js'
import { checkTree, spellPath, tooDeep, tooManyValues } from './check-tree.js'
import { scanJson } from './json-scan.js'

// The only ways JSON text can spell what PostgreSQL cannot store: its
// escapes for U+0000 and for surrogates (raw control characters are not
// JSON, and valid UTF-8 has no surrogates). Paired surrogates match too and
// only cost the check of each string.
const UNSTORABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/

/**
 * JSON.parse itself never pollutes (it defines `__proto__` as an own key), but
 * the tree is handed to code that copies and assigns keys, so reserved keys
 * are refused here, once, with the depth and value caps.
 */
export function parseJson(text: string, limits: BodyLimits = DEFAULT_BODY_LIMITS): Parsed {
  // Each key or item takes two characters at least, each level one: shorter
  // text is within the caps, and its parse cheap.
  if (text.length > 2 * limits.maxValues) {
    const scan = scanJson(text, limits.maxValues, limits.maxDepth)
    if (scan.tooDeep) return tooDeep('JSON body', limits.maxDepth, spellPath(scan.tooDeep))
    if (scan.values > limits.maxValues) return tooManyValues('JSON body', limits.maxValues)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    // V8's message names the position, which is what a sender needs to fix it.
    const message = error instanceof Error ? error.message : 'not valid JSON'
    return refuse(`JSON body: ${message.length > 200 ? `${message.slice(0, 200)}…` : message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`
    return refuse(`JSON body: the top level must be an object, not ${kind}`)
  }
  const problem = checkTree(value, 'JSON body', limits, UNSTORABLE_ESCAPE.test(text))
  return problem ?? { ok: true, params: value as Record<string, unknown> }
}
