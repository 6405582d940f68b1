import { unstorableIn } from '../db/storable-text.js'
import {
  type BodyLimits,
  isDangerousKey,
  type Refusal,
  refuse,
  showKey,
} from '../formats/body-limits.js'

interface Frame {
  value: object
  key: string | number | null
  parent: Frame | null
  depth: number
}

/**
 * Why a parsed JSON tree is refused, or null when it is fine: a reserved
 * key, nesting past the depth cap, more keys and items than the value cap,
 * or (when `text` is set) a string or key PostgreSQL cannot store. One pass,
 * iterative (a hostile tree cannot exhaust the stack), visiting each value
 * once and stopping at the first problem; paths are spelled only for the
 * reason.
 */
export function checkTree(
  root: object,
  label: string,
  limits: BodyLimits,
  text: boolean,
): Refusal | null {
  const { maxDepth, maxValues } = limits
  const stack: Frame[] = [{ value: root, key: null, parent: null, depth: 0 }]
  let values = 0
  while (stack.length > 0) {
    const frame = stack.pop() as Frame
    if (frame.depth >= maxDepth) return tooDeep(label, maxDepth, pathOf(frame))
    const node = frame.value
    const isArray = Array.isArray(node)
    const keys = isArray ? null : Object.keys(node)
    values += isArray ? node.length : (keys as string[]).length
    if (values > maxValues) return tooManyValues(label, maxValues)
    const count = isArray ? node.length : (keys as string[]).length
    for (let i = 0; i < count; i++) {
      const key = isArray ? i : (keys as string[])[i]!
      if (typeof key === 'string') {
        if (isDangerousKey(key)) {
          const where = frame.parent === null ? '' : ` (in ${showKey(pathOf(frame))})`
          return refuse(`${label}: the key ${showKey(key)} is not allowed${where}`)
        }
        const bad = text ? unstorableIn(key) : null
        if (bad) return unstorable(label, `the key ${showKey(key)}`, frame, bad)
      }
      const child = (node as Record<string | number, unknown>)[key]
      if (typeof child === 'object' && child !== null) {
        stack.push({ value: child, key, parent: frame, depth: frame.depth + 1 })
      } else if (text && typeof child === 'string') {
        const bad = unstorableIn(child)
        if (bad) {
          const at = pathOf({ value: node, key, parent: frame, depth: 0 })
          return refuse(
            `${label}: the value at ${showKey(at)} holds ${bad}, which cannot be stored`,
            'invalid_text',
          )
        }
      }
    }
  }
  return null
}

export const tooDeep = (label: string, maxDepth: number, path: string): Refusal =>
  refuse(`${label}: nested deeper than ${maxDepth} levels (at ${showKey(path)})`, 'too_deep')

export const tooManyValues = (label: string, maxValues: number): Refusal =>
  refuse(`${label}: more than ${maxValues} values (keys and array items)`, 'too_many_values')

function unstorable(label: string, what: string, frame: Frame, bad: string): Refusal {
  const where = frame.parent === null ? '' : ` (in ${showKey(pathOf(frame))})`
  return refuse(`${label}: ${what}${where} holds ${bad}, which cannot be stored`, 'invalid_text')
}

/** `customer.items[2].sku`, as parameter paths are written. */
function pathOf(frame: Frame): string {
  const keys: (string | number)[] = []
  for (let at: Frame | null = frame; at !== null && at.key !== null; at = at.parent)
    keys.push(at.key)
  return spellPath(keys.reverse())
}

/** Keys and indexes from the top, as parameter paths are written: `customer.items[2].sku`. */
export const spellPath = (keys: (string | number)[]): string =>
  keys.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`)).join('')
