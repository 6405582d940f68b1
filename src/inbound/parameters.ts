import { type Static, Type } from 'typebox'
import { readSegments } from '../fields/field-path.js'
import { DEFAULT_BODY_LIMITS, isDangerousKey } from '../formats/body-limits.js'
import { coerceValue, type ParameterType } from './coerce-value.js'
import { onceEach } from './once-each.js'
import { PARAMETER_PATH_PATTERN, writablePath } from './paths.js'

export const InboundParameterType = Type.Enum(
  ['string', 'number', 'boolean', 'date', 'email', 'phone'],
  {
    description:
      'How the value is read: numbers from numeric text, booleans from true/false, 1/0, yes/no, on/off, ' +
      'dates to ISO 8601 UTC, phones to digits with a leading +, emails trimmed and lowercased.',
  },
)

export const InboundParameter = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: PARAMETER_PATH_PATTERN,
      description: 'Dot path into the parsed body, e.g. `customer.email` or `items[0].sku`.',
    }),
    type: InboundParameterType,
    required: Type.Boolean({ description: 'A call without it (or with it blank) is `invalid`.' }),
  },
  {
    $id: 'InboundParameter',
    additionalProperties: false,
    examples: [{ name: 'customer.email', type: 'email', required: true }],
  },
)
export type InboundParameter = Static<typeof InboundParameter>

/** What create and update take: `required` may be left out (not required). */
export const InboundParameterInput = Type.Object(
  {
    name: InboundParameter.properties.name,
    type: InboundParameterType,
    required: Type.Optional(
      Type.Boolean({
        description: 'A call without it (or with it blank) is `invalid`. Default false.',
      }),
    ),
  },
  {
    $id: 'InboundParameterInput',
    additionalProperties: false,
    examples: [
      { name: 'customer.email', type: 'email', required: true },
      { name: 'note', type: 'string' },
    ],
  },
)
export type InboundParameterInput = Static<typeof InboundParameterInput>

/** Parameters as stored and shown: each says whether it is required. */
export function fullParameters(parameters: readonly InboundParameterInput[]): InboundParameter[] {
  return parameters.map(({ name, type, required }) => ({ name, type, required: required ?? false }))
}

export type CoerceResult =
  | { ok: true; values: Record<string, unknown> }
  | { ok: false; reason: string }

const MAX_REPORTED_PROBLEMS = 5

/**
 * The parsed parameters with each declared one checked and converted in place
 * (undeclared ones pass through as sent, so conditions and templates can still
 * use them). A blank optional parameter is removed rather than kept as '', so
 * a mapping never writes blanks over CRM data. The reason names every
 * offending parameter (up to five), e.g. `customer.email: not an email address`.
 */
export function coerceParameters(
  defs: readonly InboundParameter[],
  raw: Record<string, unknown>,
): CoerceResult {
  // Written in place (the tree is this call's own; copying a large body for
  // each declared parameter cost more than parsing it), and undone when the
  // call is refused, so the call log shows the parameters as sent.
  const undo: Undo[] = []
  const problems: string[] = []
  for (const { def, segments } of compiledParameters(defs)) {
    if (!segments) {
      problems.push(`${def.name}: not a valid parameter name`)
      continue
    }
    const value = readSegments(raw, segments)
    if (isBlank(value)) {
      if (def.required) problems.push(`${def.name}: required`)
      else if (value !== undefined) writeAt(raw, segments, REMOVE, undo)
      continue
    }
    const coerced = coerceValue(def.type as ParameterType, value)
    if (coerced.ok) writeAt(raw, segments, coerced.value, undo)
    else problems.push(`${def.name}: ${coerced.problem}`)
  }
  if (problems.length === 0) return { ok: true, values: raw }
  for (const [node, key, had, old] of undo.reverse()) {
    if (had) node[key] = old
    else delete node[key]
  }
  const shown = problems.slice(0, MAX_REPORTED_PROBLEMS)
  const more = problems.length - shown.length
  return { ok: false, reason: shown.join('; ') + (more > 0 ? `; and ${more} more` : '') }
}

// A handler's parameters, each with its name parsed.
const compiledParameters = onceEach((defs: readonly InboundParameter[]) =>
  defs.map((def) => ({ def, segments: writablePath(def.name) })),
)

const isBlank = (value: unknown) =>
  value === undefined || value === null || (typeof value === 'string' && value.trim() === '')

const REMOVE = Symbol('remove')

/** A container, a key in it, whether it held the key, and what. */
type Undo = [Record<string, unknown>, string, boolean, unknown]

/** Sets (or removes) the value at a path that `readField` found, noting how to undo it. */
function writeAt(root: unknown, segments: readonly string[], value: unknown, undo: Undo[]): void {
  let node = root as Record<string, unknown>
  const end = segments.length - 1
  for (let i = 0; i < end; i++) node = node[segments[i]!] as Record<string, unknown>
  const key = segments[end]!
  undo.push([node, key, Object.hasOwn(node, key), node[key]])
  // Removing from an array would shift its other items; null keeps their places.
  if (value !== REMOVE) node[key] = value
  else if (Array.isArray(node)) node[key as unknown as number] = null
  else delete node[key]
}

const MAX_SAMPLE_PARAMETERS = 500

/**
 * Parameters for every leaf of a sample body (an uploaded JSON document, or a
 * parsed form), with dot paths and a guessed type, all optional. Arrays are
 * described by their first item (`items[0].sku`), which is what a mapping of
 * one record can use. Keys a dot path cannot name are skipped.
 */
export function parametersFromSample(sample: unknown): InboundParameter[] {
  const found: InboundParameter[] = []
  const visit = (value: unknown, path: string, depth: number) => {
    if (found.length >= MAX_SAMPLE_PARAMETERS || depth > DEFAULT_BODY_LIMITS.maxDepth) return
    if (Array.isArray(value)) {
      if (path !== '' && value.length > 0) visit(value[0], `${path}[0]`, depth + 1)
    } else if (typeof value === 'object' && value !== null) {
      for (const key of Object.keys(value)) {
        if (key === '' || /[.[\]]/.test(key) || isDangerousKey(key)) continue
        const child = path === '' ? key : `${path}.${key}`
        visit((value as Record<string, unknown>)[key], child, depth + 1)
      }
    } else if (path !== '' && path.length <= 200) {
      found.push({ name: path, type: inferType(value), required: false })
    }
  }
  visit(sample, '', 0)
  return found
}

const ISO_DATE_LIKE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}|$)/
const NUMBER_LIKE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/

/** A cautious guess: text that could be an identifier (a zip with a leading 0) stays a string. */
export function inferType(value: unknown): ParameterType {
  if (typeof value === 'boolean') return 'boolean'
  if (typeof value === 'number') return 'number'
  if (typeof value !== 'string') return 'string'
  const text = value.trim()
  if (text === 'true' || text === 'false') return 'boolean'
  if (coerceValue('email', text).ok) return 'email'
  if (ISO_DATE_LIKE.test(text) && coerceValue('date', text).ok) return 'date'
  if (NUMBER_LIKE.test(text) && text.length <= 15) return 'number'
  const phoneLike = /^\+|[\s().-]/.test(text) && text.replace(/\D/g, '').length >= 7
  if (phoneLike && coerceValue('phone', text).ok) return 'phone'
  return 'string'
}
