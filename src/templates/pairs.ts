import { type Static, Type } from 'typebox'
import { renderSlots, type TemplateData } from './liquid-engine.js'
import { fillWith, MAX_OUTPUT_BYTES, outputTooLarge, soleValue } from './output.js'
import { TemplateError } from './template-error.js'
import { JsonText, jsonLiteral, textOf } from './values.js'
import { escapeXmlText, isXmlName } from './xml-body.js'

/**
 * One entry of a key-value body. The key is literal; the value is a template:
 * a field (`{{ lead.email }}`), a constant (`web`) or a mix (`{{ lead.first }} {{ lead.last }}`).
 */
export const KeyValuePair = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 256 }),
    value: Type.String({
      maxLength: 64 * 1024,
      description: 'A template: a field, a constant or both.',
    }),
  },
  { additionalProperties: false, examples: [{ key: 'email', value: '{{ lead.email }}' }] },
)
export type KeyValuePair = Static<typeof KeyValuePair>

/** `application/x-www-form-urlencoded`; a repeated key is sent repeated, in order. */
export function renderFormPairs(pairs: readonly KeyValuePair[], data: TemplateData): string {
  const form = new URLSearchParams()
  const budget = new Budget()
  for (const { key, value } of pairs) form.append(key, budget.spend(renderPairText(value, data)))
  return budget.check(form.toString())
}

/**
 * Plain text, one `key=value` per line (LF between lines). In a value, `\`
 * is written `\\`, a line feed `\n` and a carriage return `\r`, so each
 * line is one pair: split the lines, split each at its first `=`, unescape.
 * Keys may not hold `=` or line breaks (refused when the rule is saved).
 */
export function renderTextPairs(pairs: readonly KeyValuePair[], data: TemplateData): string {
  const budget = new Budget()
  const lines = pairs.map(
    ({ key, value }) => `${key}=${escapeLine(budget.spend(renderPairText(value, data)))}`,
  )
  return budget.check(lines.join('\n'))
}

const LINE_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r' }

function escapeLine(text: string): string {
  return text.replace(/[\\\n\r]/g, (c) => LINE_ESCAPES[c] as string)
}

/** Whether `key` can start a `key=value` line of a text body. */
export function isTextPairKey(key: string): boolean {
  return !/[=\r\n]/.test(key)
}

/**
 * A flat JSON object. A value that is exactly one `{{ }}` keeps its JSON type
 * (`{{ lead.age }}` gives 42, `{{ lead.tags }}` an array, a missing field
 * null); anything else is a string. A repeated key keeps its last value.
 */
export function renderJsonPairs(pairs: readonly KeyValuePair[], data: TemplateData): string {
  // Each key's value as JSON text. No prototype, so a key named `__proto__` is an ordinary key.
  const body: Record<string, string> = Object.create(null)
  const budget = new Budget()
  for (const { key, value } of pairs) {
    const rendered = renderSlots(value, data)
    const sole = soleValue(rendered)
    body[key] = sole
      ? canonicalJson(budget.spend(jsonLiteral(sole.value)), sole.value)
      : JSON.stringify(budget.spend(fillWith(rendered, textOf)))
  }
  // JSON.stringify of the object of parsed values would write the same text:
  // its keys in the same order, and each value as written above.
  let json = '{'
  for (const key of Object.keys(body)) {
    json += `${json.length > 1 ? ',' : ''}${JSON.stringify(key)}:${body[key]}`
  }
  return budget.check(`${json}}`)
}

/**
 * `literal` (from jsonLiteral) as JSON.stringify writes it. It already is,
 * unless the value is the text of a `json` filter, which may be indented.
 */
function canonicalJson(literal: string, value: unknown): string {
  return value instanceof JsonText ? JSON.stringify(JSON.parse(literal)) : literal
}

/** `<root><key>value</key>…</root>`; keys must be XML names (see `isXmlName`). */
export function renderXmlPairs(
  rootName: string,
  pairs: readonly KeyValuePair[],
  data: TemplateData,
): string {
  for (const name of [rootName, ...pairs.map((pair) => pair.key)]) {
    if (!isXmlName(name)) {
      throw new TemplateError('template_render', `'${name}' cannot be an XML element name`)
    }
  }
  const budget = new Budget()
  const elements = pairs.map(
    ({ key, value }) =>
      `<${key}>${escapeXmlText(budget.spend(renderPairText(value, data)))}</${key}>`,
  )
  return budget.check(
    `<?xml version="1.0" encoding="UTF-8"?>\n<${rootName}>${elements.join('')}</${rootName}>`,
  )
}

function renderPairText(value: string, data: TemplateData): string {
  return fillWith(renderSlots(value, data), textOf)
}

/** Each value may be up to the limit; together they may not either. */
class Budget {
  #units = 0

  spend(text: string): string {
    this.#units += text.length
    if (this.#units > MAX_OUTPUT_BYTES) throw outputTooLarge()
    return text
  }

  check(body: string): string {
    if (Buffer.byteLength(body) > MAX_OUTPUT_BYTES) throw outputTooLarge()
    return body
  }
}
