import { fillJson } from './json-body.js'
import { renderSlots, type TemplateData } from './liquid-engine.js'
import { fillWith } from './output.js'
import { textOf, toWellFormed } from './values.js'
import { fillXml } from './xml-body.js'

/**
 * Rendering of a rule's request: Liquid templates (`{{ lead.email }}`,
 * `{{ lead.created_at | date: '%Y-%m-%d' }}`, `{{ lead.source | default: 'web' }}`)
 * where the escaping is ours and fits the output format, so no field value can
 * break the document. Every function throws `TemplateError`.
 */

export {
  isPlainTemplate,
  type TemplateData,
  templateFields,
  validateTemplate,
} from './liquid-engine.js'
export { TemplateError, type TemplateErrorCode } from './template-error.js'

/** A JSON document; always valid JSON, whatever the values hold. */
export function renderJson(template: string, data: TemplateData): string {
  return fillJson(renderSlots(template, data))
}

/** An XML document; always well-formed, whatever the values hold. */
export function renderXml(template: string, data: TemplateData): string {
  return fillXml(renderSlots(template, data))
}

/** Plain text: values as they are. */
export function renderText(template: string, data: TemplateData): string {
  return fillWith(renderSlots(template, data), textOf)
}

/**
 * A URL: each value percent-encoded as a component, so it cannot add a path
 * segment, a query parameter or a fragment, nor change the host's shape.
 */
export function renderUrl(template: string, data: TemplateData): string {
  return fillWith(renderSlots(template, data), (value) =>
    encodeURIComponent(toWellFormed(textOf(value))),
  )
}

// RFC 9110 field values allow tab and visible characters. CR, LF and NUL would let a
// value start a new header or end the head; other controls get the request refused.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const NOT_IN_HEADER = /[\0-\x08\x0A-\x1F\x7F]/g

/**
 * A header value: control characters removed (CR, LF, NUL and all others
 * but tab) and surrounding blanks trimmed. Returned as a byte string, one
 * character per byte of the UTF-8 text, because HTTP clients (undici) write
 * header values as Latin-1 and refuse anything above U+00FF; ASCII text comes
 * back unchanged.
 */
export function renderHeaderValue(template: string, data: TemplateData): string {
  const text = renderText(template, data)
    .replace(NOT_IN_HEADER, '')
    .replace(/^[ \t]+|[ \t]+$/g, '')
  return Buffer.from(text, 'utf8').toString('latin1')
}

export {
  isTextPairKey,
  KeyValuePair,
  renderFormPairs,
  renderJsonPairs,
  renderTextPairs,
  renderXmlPairs,
} from './pairs.js'
export { isXmlName } from './xml-body.js'
export { renderXmlRecord } from './xml-record.js'
