import { parseFieldPath } from '../fields/field-path.js'
import { isDangerousKey } from '../formats/body-limits.js'

/**
 * Paths into an inbound call's parameters (`customer.email`, `items[0].sku`)
 * and into the mapped record (`lead.email`). They are read with the shared
 * field-path reader; these patterns keep reserved keys out at save time, so
 * no path can walk into `__proto__` when a value is written.
 */

const RESERVED = '(?:__proto__|constructor|prototype)'

/** Dot names with optional `[n]` indexes; no segment is a reserved key. */
export const PARAMETER_PATH_PATTERN = `^(?!(?:.*[.\\]])?${RESERVED}(?:[.\\[]|$))[^.\\[\\]]+(?:\\.[^.\\[\\]]+|\\[[0-9]+\\])*$`

/** Dot names only (the record is built from objects); no segment is a reserved key. */
export const TARGET_PATH_PATTERN = `^(?!(?:.*\\.)?${RESERVED}(?:\\.|$))[^.\\[\\]]+(?:\\.[^.\\[\\]]+)*$`

/** The segments of a path safe to write along, or null. */
export function writablePath(path: string): string[] | null {
  const segments = parseFieldPath(path)
  if (!segments || segments.some(isDangerousKey)) return null
  return segments
}
