import { unstorableIn } from '../db/storable-text.js'
import { isDangerousKey, type Parsed, refuse, showKey } from '../formats/body-limits.js'

/**
 * Form and multipart fields arrive as flat `name=value` pairs; names such as
 * `customer[email]`, `customer.email` and `tags[]` describe a nested record.
 * Building that record is where prototype pollution usually happens, so every
 * name segment is checked before anything is assigned.
 */

const APPEND = Symbol('append')
type Segment = string | typeof APPEND

/** The segments of a field name, or why it is refused. */
export function nameSegments(name: string, maxDepth: number): Segment[] | string {
  const headEnd = firstOf(name, 0)
  const head = name.slice(0, headEnd)
  if (head === '' || head.includes(']')) return 'is not a valid parameter name'
  const segments: Segment[] = [head]
  let at = headEnd
  while (at < name.length) {
    if (name[at] === '[') {
      const close = name.indexOf(']', at)
      if (close < 0) return 'has an unclosed ['
      const inner = name.slice(at + 1, close)
      if (inner.includes('[')) return 'has a nested ['
      if (inner === '' && close !== name.length - 1) return 'has [] before its end'
      segments.push(inner === '' ? APPEND : inner)
      at = close + 1
    } else if (name[at] === '.') {
      const end = firstOf(name, at + 1)
      const segment = name.slice(at + 1, end)
      if (segment === '' || segment.includes(']')) return 'has an empty or malformed segment'
      segments.push(segment)
      at = end
    } else {
      return 'has text after a ]'
    }
  }
  if (segments.length > maxDepth) return `is nested deeper than ${maxDepth} levels`
  for (const segment of segments) {
    if (typeof segment === 'string' && isDangerousKey(segment)) {
      return `uses the reserved key ${showKey(segment)}`
    }
  }
  return segments
}

function firstOf(name: string, from: number): number {
  for (let i = from; i < name.length; i++) {
    if (name[i] === '[' || name[i] === '.') return i
  }
  return name.length
}

type Node = Record<string, unknown>

const isNode = (value: unknown): value is Node =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * The nested record the pairs describe. A name given twice (`a=1&a=2`, as
 * checkboxes send) becomes an array; a name used both as a value and as a
 * group (`a=1&a[b]=2`) is refused rather than guessed at, as is text
 * PostgreSQL cannot store (U+0000, which percent-encoding can spell).
 */
export function buildParamTree(
  pairs: Iterable<readonly [string, string]>,
  label: string,
  maxDepth: number,
): Parsed {
  const root: Node = {}
  for (const [name, value] of pairs) {
    const segments = nameSegments(name, maxDepth)
    if (typeof segments === 'string') {
      const code = segments.startsWith('is nested') ? 'too_deep' : 'invalid_body'
      return refuse(`${label}: parameter ${showKey(name)} ${segments}`, code)
    }
    const bad = unstorableIn(name) ?? unstorableIn(value)
    if (bad) {
      return refuse(
        `${label}: parameter ${showKey(name)} holds ${bad}, which cannot be stored`,
        'invalid_text',
      )
    }
    if (!insert(root, segments, value)) {
      return refuse(`${label}: parameter ${showKey(name)} is used both as a value and as a group`)
    }
  }
  return { ok: true, params: root }
}

function insert(root: Node, segments: Segment[], value: string): boolean {
  let node = root
  for (let i = 0; i < segments.length; i++) {
    const key = segments[i] as string
    const next = segments[i + 1]
    // Own properties only: a field named `toString` is data, not Object.prototype's method.
    const existing = Object.hasOwn(node, key) ? node[key] : undefined
    if (next === undefined || next === APPEND) {
      if (isNode(existing)) return false
      if (existing === undefined) node[key] = next === APPEND ? [value] : value
      else if (Array.isArray(existing)) existing.push(value)
      else node[key] = [existing, value]
      return true
    }
    if (existing === undefined) node[key] = {}
    else if (!isNode(existing)) return false
    node = node[key] as Node
  }
  return true
}
