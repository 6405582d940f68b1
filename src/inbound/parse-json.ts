import { checkTree } from './check-tree.js'
import { type Parsed, refuse } from './limits.js'

/**
 * JSON.parse itself never pollutes (it defines `__proto__` as an own key), but
 * the tree is handed to code that copies and assigns keys, so reserved keys
 * are refused here, once.
 */
export function parseJson(text: string): Parsed {
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
  const problem = checkTree(value, 'JSON body')
  return problem ? refuse(problem) : { ok: true, params: value as Record<string, unknown> }
}
