import { hash } from 'node:crypto'
import { readField } from '../fields/field-path.js'

/**
 * What makes two calls to a handler "the same" within its protection period:
 * the sha256 of the chosen parameters (default: all) as canonical JSON, keys
 * sorted at every level, so key order and whitespace in the body do not
 * matter. The chosen paths are sorted too, so their order in the config does
 * not either; an absent parameter and a null one count as the same. An
 * empty choice means all: a key over nothing would make every call a
 * duplicate of the first.
 */
export function dedupeKey(
  params: Record<string, unknown>,
  chosenParams?: readonly string[],
): string {
  const subject =
    chosenParams && chosenParams.length > 0
      ? Object.fromEntries(
          [...new Set(chosenParams)].sort().map((path) => [path, readField(params, path) ?? null]),
        )
      : params
  return hash('sha256', canonicalJson(subject), 'hex')
}

/** JSON with object keys sorted at every level; undefined members are left out, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const members = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map(
        (key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`,
      )
    return `{${members.join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}
