import type { TemplateData } from './liquid-engine.js'
import { OutputBuffer } from './output.js'
import { textOf } from './values.js'
import { escapeXmlAttribute, escapeXmlText, isXmlName } from './xml-body.js'

/** Deeper than this, a value is written as its JSON text: a record is data, not a stack test. */
const MAX_DEPTH = 64

/**
 * The whole record as XML, for an XML rule with no template and no pairs (as
 * a JSON rule sends the record as JSON): `<root>` holding what templates see
 * (the fields, `record`, `event`). An object is an element per key; an array
 * repeats its key's element once per item (items of a nested array are
 * `<item>`); null is an empty element; other values are their text. A key
 * that is not an XML name becomes `<field name="the key">`.
 */
export function renderXmlRecord(rootName: string, data: TemplateData): string {
  const out = new OutputBuffer()
  out.push(`<?xml version="1.0" encoding="UTF-8"?>\n<${rootName}>`)
  writeChildren(out, data, 1)
  out.push(`</${rootName}>`)
  return out.toString()
}

function writeChildren(out: OutputBuffer, object: object, depth: number): void {
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined) continue
    const items = Array.isArray(value) ? value : [value]
    for (const item of items) writeElement(out, key, item, depth)
  }
}

function writeElement(out: OutputBuffer, key: string, value: unknown, depth: number): void {
  const named = isXmlName(key)
  const open = named ? `<${key}` : `<field name="${escapeXmlAttribute(key)}"`
  const close = named ? `</${key}>` : '</field>'
  if (value === null || value === undefined) {
    out.push(`${open}/>`)
  } else if (typeof value === 'object' && !(value instanceof Date) && depth < MAX_DEPTH) {
    out.push(`${open}>`)
    if (Array.isArray(value)) {
      for (const item of value) writeElement(out, 'item', item, depth + 1)
    } else {
      writeChildren(out, value, depth + 1)
    }
    out.push(close)
  } else {
    out.push(`${open}>${escapeXmlText(textOf(value))}${close}`)
  }
}
