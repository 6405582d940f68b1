import type { SlottedRender } from './liquid-engine.js'
import { eachPart, OutputBuffer } from './output.js'
import { TemplateError } from './template-error.js'
import { jsonLiteral, textOf } from './values.js'

const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * Fills a JSON template's values by where each landed: inside a string
 * literal (`"name": "{{lead.name}}"`) the value's text is JSON-string-escaped;
 * elsewhere (`"age": {{lead.age}}`) the value is written as a JSON literal, a
 * string quoted. Lone surrogates come out as `\udXXX` escapes (what
 * JSON.stringify writes), so even they survive a parse exactly.
 *
 * Values cannot break the document; the template's own text can, so the
 * result is parsed before it is returned.
 */
export function fillJson(rendered: SlottedRender): string {
  const out = new OutputBuffer()
  let inString = false
  let escaped = false
  eachPart(
    rendered,
    (text) => {
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i)
        if (escaped) escaped = false
        else if (inString && c === BACKSLASH) escaped = true
        else if (c === QUOTE) inString = !inString
      }
      out.push(text)
    },
    (value) => {
      if (escaped) {
        throw new TemplateError(
          'template_render',
          'a {{ }} cannot follow a backslash in a JSON string',
        )
      }
      out.push(inString ? JSON.stringify(textOf(value)).slice(1, -1) : jsonLiteral(value))
    },
  )
  const json = out.toString()
  try {
    JSON.parse(json)
  } catch (error) {
    throw new TemplateError(
      'template_render',
      `the template does not render valid JSON: ${(error as Error).message}`,
    )
  }
  return json
}
