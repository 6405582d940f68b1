import { XMLValidator } from 'fast-xml-parser'
import type { SlottedRender } from './liquid-engine.js'
import { eachPart, OutputBuffer } from './output.js'
import { TemplateError } from './template-error.js'
import { textOf } from './values.js'

/**
 * Characters XML 1.0 does not allow anywhere, not even escaped: C0 controls
 * other than tab, LF and CR; U+FFFE and U+FFFF; and unpaired surrogates,
 * which UTF-8 cannot encode.
 */
const NOT_XML_CHAR =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

export function removeNonXmlChars(text: string): string {
  return text.replace(NOT_XML_CHAR, '')
}

const TEXT_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // A parser turns a raw CR into LF; the reference keeps it.
  '\r': '&#13;',
  // Attribute values turn raw tabs and newlines into spaces; references keep them.
  '\t': '&#9;',
  '\n': '&#10;',
}

/** Escapes for element text: all five markup characters (so `]]>` is safe too) and CR. */
export function escapeXmlText(text: string): string {
  return removeNonXmlChars(text).replace(/[&<>"'\r]/g, (c) => TEXT_ESCAPES[c]!)
}

export function escapeXmlAttribute(text: string): string {
  return removeNonXmlChars(text).replace(/[&<>"'\r\t\n]/g, (c) => TEXT_ESCAPES[c]!)
}

/** Inside CDATA nothing is decoded: split the section around `]]>` and CR instead. */
function escapeCdata(text: string): string {
  return removeNonXmlChars(text)
    .replaceAll(']]>', ']]]]><![CDATA[>')
    .replaceAll('\r', ']]>&#13;<![CDATA[')
}

/** Comments are not data; they only must not contain `--`. */
function escapeComment(text: string): string {
  return escapeXmlText(text).replaceAll('-', '&#45;')
}

type Place = 'text' | 'tag' | 'attribute' | 'cdata' | 'comment' | 'pi' | 'doctype'

const OPENERS: [string, Place][] = [
  ['<!--', 'comment'],
  ['<![CDATA[', 'cdata'],
  ['<?', 'pi'],
  ['<!', 'doctype'],
  ['<', 'tag'],
]
const CLOSERS: Partial<Record<Place, string>> = { comment: '-->', cdata: ']]>', pi: '?>' }

/**
 * Where each value marker of a render sits. A reader, not a parser: enough
 * to tell element text, attribute values, CDATA and comments apart. Markers
 * are NUL, never markup, so reading the whole render at once is exact.
 */
function valuePlaces(text: string): Place[] {
  const places: Place[] = []
  let place: Place = 'text'
  let quote = ''
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\0') {
      places.push(place)
      i = text.indexOf('\0', i + 1)
      continue
    }
    const closer = CLOSERS[place]
    if (closer !== undefined) {
      if (text.startsWith(closer, i)) {
        place = 'text'
        i += closer.length - 1
      }
    } else if (place === 'text') {
      if (c === '<') {
        const [opener, next] = OPENERS.find(([o]) => text.startsWith(o, i))!
        place = next
        i += opener.length - 1
      }
    } else if (place === 'tag') {
      if (c === '"' || c === "'") {
        place = 'attribute'
        quote = c
      } else if (c === '>') place = 'text'
    } else if (place === 'attribute') {
      if (c === quote) place = 'tag'
    } else if (place === 'doctype') {
      // The internal subset `[...]` may hold `>`.
      if (c === '[') depth++
      else if (c === ']') depth--
      else if (c === '>' && depth === 0) place = 'text'
    }
  }
  return places
}

/**
 * Fills an XML template's values, escaped for where each landed, and checks
 * the result is well-formed: values cannot break it, the template's own text
 * can.
 */
export function fillXml(rendered: SlottedRender): string {
  const out = new OutputBuffer()
  const places = valuePlaces(rendered.text)
  let n = 0
  eachPart(
    rendered,
    (text) => out.push(removeNonXmlChars(text)),
    (value) => out.push(escapeForPlace(textOf(value), places[n++]!)),
  )
  const xml = out.toString()
  const result = XMLValidator.validate(xml)
  if (result !== true) {
    const { msg, line, col } = result.err
    throw new TemplateError(
      'template_render',
      `the template does not render well-formed XML: ${msg} (line ${line}, column ${col})`,
    )
  }
  return xml
}

function escapeForPlace(text: string, place: Place): string {
  switch (place) {
    case 'text':
      return escapeXmlText(text)
    case 'attribute':
      return escapeXmlAttribute(text)
    case 'cdata':
      return escapeCdata(text)
    case 'comment':
      return escapeComment(text)
    default:
      throw new TemplateError(
        'template_render',
        'in XML, {{ }} may appear in element text, attribute values, CDATA and comments, not inside a tag name or declaration',
      )
  }
}

/**
 * Element names a key-value body may use: a letter or `_`, then letters,
 * digits, `_`, `-` or `.`. Narrower than XML's Name (no `:`, which would
 * need a namespace declaration).
 */
export function isXmlName(name: string): boolean {
  return /^[\p{L}_][\p{L}\p{N}_.-]*$/u.test(name)
}
