import { LruCache } from '../lru-cache.js'

/**
 * Field paths name a value inside a record: `lead.status`, `lead.tags.0` or
 * `lead.tags[0]`. Conditions, mappings and catalog checks all read them, so
 * they share one reading.
 */

// Paths come from rules' conditions and handlers' parameters and mappings: a
// bounded set read for every event and inbound call, so each is parsed once.
const parsed = new LruCache<string, string[] | null>(2000)
const MAX_CACHED_LENGTH = 200

/**
 * The segments of a path, or null when the path is malformed (empty segment,
 * stray bracket). The array is shared (and frozen): read it, do not change it.
 */
export function parseFieldPath(path: string): string[] | null {
  if (path.length > MAX_CACHED_LENGTH) return parse(path)
  const cached = parsed.get(path)
  if (cached !== undefined) return cached
  const segments = parse(path)
  // Frozen, so a caller that changed the shared array would fail loudly.
  parsed.set(path, segments && (Object.freeze(segments) as string[]))
  return segments
}

function parse(path: string): string[] | null {
  if (path === '') return null
  const segments: string[] = []
  for (const part of path.split('.')) {
    const match = /^([^[\]]+)((?:\[[0-9]+\])*)$/.exec(part)
    if (!match) return null
    segments.push(match[1]!)
    for (const index of match[2]!.matchAll(/\[([0-9]+)\]/g)) segments.push(index[1]!)
  }
  return segments
}

/**
 * The value at `path`, or undefined when any step is missing. Only own
 * properties are read, so a path like `lead.__proto__` or `lead.constructor`
 * finds nothing rather than JavaScript internals.
 */
export function readField(record: unknown, path: string): unknown {
  const segments = parseFieldPath(path)
  return segments ? readSegments(record, segments) : undefined
}

/** `readField` with the path's segments parsed already (`parseFieldPath`), for paths read on every call. */
export function readSegments(record: unknown, segments: readonly string[]): unknown {
  let value = record
  for (const segment of segments) {
    if (Array.isArray(value)) {
      value = /^[0-9]+$/.test(segment) ? value[Number(segment)] : undefined
    } else if (typeof value === 'object' && value !== null && Object.hasOwn(value, segment)) {
      value = (value as Record<string, unknown>)[segment]
    } else {
      return undefined
    }
  }
  return value
}
