import { toValue } from 'liquidjs'
import { TemplateError } from './template-error.js'

/**
 * What a `{{ | json }}` output produced: JSON text that a JSON body inserts
 * as is (`"tags": {{ lead.tags | json }}` gives an array, as Liquid users
 * expect) and every other context treats as text.
 */
export class JsonText {
  constructor(readonly json: string) {}
  toString(): string {
    return this.json
  }
}

/** JSON text of any value a template can produce; `undefined` and non-finite numbers are `null`. */
export function jsonLiteral(value: unknown): string {
  const plain = toValue(value)
  // Text and numbers, most values: JSON.stringify without a replacer, whose
  // call per value made this most of a JSON body's render (non-finite
  // numbers print as null either way).
  if (typeof plain === 'string' || typeof plain === 'number') return JSON.stringify(plain)
  if (plain instanceof JsonText) return plain.json
  try {
    return JSON.stringify(plain, jsonReplacer) ?? 'null'
  } catch (error) {
    throw new TemplateError(
      'template_render',
      `a value cannot be written as JSON: ${(error as Error).message}`,
    )
  }
}

export function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}

/**
 * Text of a value for string contexts. Objects and arrays become JSON rather
 * than Liquid's `[object Object]` or concatenated items, which no webhook
 * receiver wants; dates become ISO 8601.
 */
export function textOf(value: unknown): string {
  const plain = toValue(value)
  if (typeof plain === 'string') return plain
  if (plain === undefined || plain === null) return ''
  if (plain instanceof JsonText) return plain.json
  if (plain instanceof Date) return Number.isNaN(plain.getTime()) ? '' : plain.toISOString()
  if (typeof plain === 'object') return jsonLiteral(plain)
  return String(plain)
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * Replaces unpaired surrogates with U+FFFD, as any UTF-8 encoder would; done
 * before percent-encoding, where `encodeURIComponent` would throw on them.
 */
export function toWellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD')
}
