import { type Static, Type } from 'typebox'
import { parseFieldPath, readSegments } from '../fields/field-path.js'
import { onceEach } from './once-each.js'
import { PARAMETER_PATH_PATTERN, TARGET_PATH_PATTERN, writablePath } from './paths.js'

export const InboundMappingEntry = Type.Object(
  {
    source: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: PARAMETER_PATH_PATTERN,
      description: 'Parameter path, e.g. `customer.email`.',
    }),
    target: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: TARGET_PATH_PATTERN,
      description: 'CRM field key; dots nest, e.g. `lead.email`.',
    }),
  },
  { additionalProperties: false },
)
export type InboundMappingEntry = Static<typeof InboundMappingEntry>

export const InboundMapping = Type.Array(InboundMappingEntry, {
  $id: 'InboundMapping',
  maxItems: 500,
  description: 'Which parameter fills which CRM field.',
  examples: [[{ source: 'customer.email', target: 'lead.email' }]],
})
export type InboundMapping = Static<typeof InboundMapping>

/**
 * Why a mapping cannot be applied as written, or null. Two entries filling one
 * target, or one target inside another (`lead` and `lead.email`), would make
 * the record depend on entry order; better refused when the handler is saved.
 */
export function mappingProblem(mapping: readonly InboundMappingEntry[]): string | null {
  const targets = mapping.map((entry) => entry.target)
  const seen = new Set<string>()
  for (const target of targets) {
    if (!writablePath(target)) return `mapping: ${target} is not a valid target`
    if (seen.has(target)) return `mapping: ${target} is filled twice`
    seen.add(target)
  }
  for (const target of targets) {
    const inner = targets.find((other) => other.startsWith(`${target}.`))
    if (inner) return `mapping: ${target} and ${inner} overlap`
  }
  return null
}

/**
 * The CRM record a call's parameters fill. A parameter the call did not send
 * leaves its target out, so the CRM keeps what it has. Entries that
 * `mappingProblem` refuses are skipped, never allowed to touch a prototype.
 */
export function applyMapping(
  mapping: readonly InboundMappingEntry[],
  params: Record<string, unknown>,
): Record<string, unknown> {
  const record: Record<string, unknown> = {}
  for (const { source, parent, last } of compiledMapping(mapping)) {
    const value = readSegments(params, source)
    if (value === undefined) continue
    const node = parentFor(record, parent)
    if (node && !Object.hasOwn(node, last)) node[last] = value
  }
  return record
}

/** A mapping entry with its paths parsed: the source's segments, and the target's parent path and last key. */
interface CompiledEntry {
  source: readonly string[]
  parent: readonly string[]
  last: string
}

// A handler's mapping with its paths parsed (an entry whose paths do not parse is left out).
const compiledMapping = onceEach((mapping: readonly InboundMappingEntry[]) => {
  const entries: CompiledEntry[] = []
  for (const { source, target } of mapping) {
    const sourceSegments = parseFieldPath(source)
    const segments = writablePath(target)
    if (!sourceSegments || !segments) continue
    entries.push({ source: sourceSegments, parent: segments.slice(0, -1), last: segments.at(-1)! })
  }
  return entries
})

/** The object that holds the path's last segment, created as needed; null if a value is in the way. */
function parentFor(record: Record<string, unknown>, parent: readonly string[]) {
  let node = record
  for (const segment of parent) {
    // Own properties only: a target named `toString` is a field, not a method.
    const next = Object.hasOwn(node, segment) ? node[segment] : undefined
    if (next === undefined) node[segment] = {}
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) return null
    node = node[segment] as Record<string, unknown>
  }
  return node
}
