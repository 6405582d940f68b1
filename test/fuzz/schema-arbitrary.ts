import fc from 'fast-check'

/**
 * fast-check arbitraries from the JSON Schema subset the OpenAPI document
 * uses (object, array, string with pattern/length/enum/format, integer and
 * number with bounds, boolean, null, anyOf, type lists, $ref), and a mutator
 * that breaks a valid value in the ways callers do.
 */

export interface Schema {
  $ref?: string
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  additionalProperties?: boolean | Schema
  items?: Schema
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  anyOf?: Schema[]
  oneOf?: Schema[]
  enum?: unknown[]
  const?: unknown
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string | object
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  minProperties?: number
  examples?: unknown[]
}

export type Components = Record<string, Schema>

const MAX_DEPTH = 6

export function arbitraryFor(
  schema: Schema,
  components: Components,
  depth = 0,
): fc.Arbitrary<unknown> {
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop() as string
    const target = components[name]
    if (!target) throw new Error(`unknown $ref ${schema.$ref}`)
    return fc.constant(null).chain(() => arbitraryFor(target, components, depth + 1))
  }
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (schema.enum) return fc.constantFrom(...schema.enum)
  const options = schema.anyOf ?? schema.oneOf
  if (options) {
    // Deep in a recursive schema (condition groups), prefer the leaves.
    const usable = depth > MAX_DEPTH ? options.filter((o) => !o.$ref) : options
    return fc.oneof(
      ...(usable.length > 0 ? usable : options).map((o) => arbitraryFor(o, components, depth + 1)),
    )
  }
  if (Array.isArray(schema.type)) {
    return fc.oneof(
      ...schema.type.map((type) => arbitraryFor({ ...schema, type }, components, depth)),
    )
  }
  switch (schema.type) {
    case 'null':
      return fc.constant(null)
    case 'boolean':
      return fc.boolean()
    case 'integer':
      return fc.integer({
        min: schema.minimum ?? (schema.exclusiveMinimum ?? -1e6 - 1) + 1,
        max: Math.min(schema.maximum ?? 1e6, Number.MAX_SAFE_INTEGER),
      })
    case 'number':
      return fc.double({
        min: schema.minimum ?? -1e6,
        max: schema.maximum ?? 1e6,
        noNaN: true,
        noDefaultInfinity: true,
      })
    case 'string':
      return stringFor(schema)
    case 'array': {
      const items = schema.items ? arbitraryFor(schema.items, components, depth + 1) : fc.anything()
      const minLength = schema.minItems ?? 0
      const maxLength = Math.max(
        minLength,
        Math.min(schema.maxItems ?? 4, depth > MAX_DEPTH ? minLength : 4),
      )
      return schema.uniqueItems
        ? fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
        : fc.array(items, { minLength, maxLength })
    }
    case 'object':
    case undefined:
      return objectFor(schema, components, depth)
    default:
      return fc.anything()
  }
}

function objectFor(schema: Schema, components: Components, depth: number): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {}
  const required = new Set(schema.required ?? [])
  const keys = Object.keys(properties)
  if (keys.length === 0) {
    return schema.additionalProperties === false
      ? fc.constant({})
      : fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
  }
  const record: Record<string, fc.Arbitrary<unknown>> = {}
  for (const key of keys) {
    record[key] = arbitraryFor(properties[key] as Schema, components, depth + 1)
  }
  return fc.record(record, {
    requiredKeys: keys.filter((k) => required.has(k) || depth > MAX_DEPTH),
  })
}

const patternCache = new Map<string, fc.Arbitrary<string>>()

function stringFor(schema: Schema): fc.Arbitrary<string> {
  const maxLength = Math.min(schema.maxLength ?? 40, 40)
  const minLength = Math.min(schema.minLength ?? 0, maxLength)
  if (schema.format === 'date-time')
    return fc.date({ noInvalidDate: true }).map((d) => d.toISOString())
  if (schema.pattern) {
    let arb = patternCache.get(schema.pattern)
    if (!arb) {
      arb = patternArbitrary(schema.pattern)
      patternCache.set(schema.pattern, arb)
    }
    return arb.filter(
      (s) => s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? 1e6),
    )
  }
  return fc.string({ minLength, maxLength, unit: 'grapheme' })
}

function patternArbitrary(pattern: string): fc.Arbitrary<string> {
  // fast-check cannot generate from lookaheads: drop them, the server still checks.
  for (const source of [pattern, pattern.replace(/\(\?[!=][^)]*(\([^)]*\))*[^)]*\)/g, '')]) {
    try {
      return fc.stringMatching(new RegExp(source))
    } catch {
      // try the next form
    }
  }
  return fc.string()
}

/** Values that break things: wrong types, extremes, prototype keys, odd text. */
export const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    '',
    0,
    -1,
    1e308,
    -0,
    true,
    [],
    {},
    '\u0000',
    '\ud800',
    '{{',
    '{% if %}',
    '../../etc/passwd',
    'http://127.0.0.1/',
    'x'.repeat(20_000),
    Number.MAX_SAFE_INTEGER + 2,
    [[[[[[[[[[[]]]]]]]]]]],
  ),
  fc.constant(null).map(() => JSON.parse('{"__proto__":{"polluted":1}}')),
  fc.constant(null).map(() => JSON.parse('{"constructor":{"prototype":{"polluted":1}}}')),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
)

type Mutation = 'replace' | 'delete' | 'add' | 'none'

/** A valid value broken at one node: replaced by junk, a key removed, or an unknown key added. */
export function mutated(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc
    .tuple(
      valid,
      fc.nat(),
      junk,
      fc.constantFrom<Mutation>('replace', 'replace', 'delete', 'add', 'none'),
      fc.string({ maxLength: 12 }),
    )
    .map(([value, pick, bad, how, key]) => mutate(value, pick, bad, how, key))
}

function mutate(value: unknown, pick: number, bad: unknown, how: Mutation, key: string): unknown {
  if (how === 'none') return value
  // Through JSON: a `__proto__` key stays an own key, as a parsed request body has it.
  const copy = value === undefined ? undefined : JSON.parse(JSON.stringify(value))
  const nodes: { parent: Record<string, unknown> | unknown[] | null; key: string | number }[] = [
    { parent: null, key: '' },
  ]
  const walk = (node: unknown) => {
    if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        nodes.push({
          parent: node as Record<string, unknown>,
          key: Array.isArray(node) ? Number(k) : k,
        })
        walk(v)
      }
    }
  }
  walk(copy)
  const target = nodes[pick % nodes.length]!
  if (!target.parent) {
    if (how === 'add' && copy && typeof copy === 'object' && !Array.isArray(copy)) {
      Object.defineProperty(copy, key || 'extra', {
        value: bad,
        enumerable: true,
        writable: true,
        configurable: true,
      })
      return copy
    }
    return how === 'replace' ? bad : copy
  }
  const parent = target.parent as Record<string | number, unknown>
  if (how === 'replace') parent[target.key] = bad
  else if (how === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(target.key), 1)
    else delete parent[target.key]
  } else {
    const child = parent[target.key]
    if (child && typeof child === 'object' && !Array.isArray(child)) {
      Object.defineProperty(child, key || 'extra', {
        value: bad,
        enumerable: true,
        writable: true,
        configurable: true,
      })
    } else parent[target.key] = bad
  }
  return copy
}
