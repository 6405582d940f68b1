import { XMLParser, XMLValidator } from 'fast-xml-parser'
import {
  isDangerousKey,
  MAX_DEPTH,
  MAX_XML_CHARACTER_REFERENCES,
  type Parsed,
  refuse,
  showKey,
} from './limits.js'

/**
 * XML is parsed with every entity feature off: a DOCTYPE is refused before the
 * parser sees it (no billion laughs, no external entities), and the parser
 * expands nothing. The five predefined entities and numeric references are
 * then decoded here, with a cap, because they expand one-for-one and real
 * payloads use them (`Smith &amp; Co`). fast-xml-parser's own decoding is
 * not used: it leaves some numeric references undecoded and decodes CDATA.
 */
const parser = new XMLParser({
  processEntities: false,
  htmlEntities: false,
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: '#cdata',
  maxNestedTags: MAX_DEPTH,
})

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }
const REFERENCE = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|([A-Za-z_][\w.-]*));/g
const DECLARED_ENCODING = /^\s*<\?xml\s[^>]*?encoding\s*=\s*["']([^"']*)["']/

class Refusal extends Error {}

export function parseXml(text: string): Parsed {
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) {
    return refuse('XML body: DOCTYPE and ENTITY declarations are not accepted')
  }
  const encoding = DECLARED_ENCODING.exec(text)?.[1]
  if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) {
    return refuse(`XML body: declares encoding ${showKey(encoding)}; send UTF-8`)
  }
  if (countReferences(text) > MAX_XML_CHARACTER_REFERENCES) {
    return refuse(`XML body: more than ${MAX_XML_CHARACTER_REFERENCES} character references`)
  }
  const valid = XMLValidator.validate(text)
  if (valid !== true) {
    const { msg, line, col } = valid.err
    return refuse(`XML body: ${msg.slice(0, 200)} (line ${line}, column ${col})`)
  }
  let tree: unknown
  try {
    tree = parser.parse(text)
  } catch (error) {
    const message = error instanceof Error ? error.message : ''
    if (/nested tags/i.test(message))
      return refuse(`XML body: nested deeper than ${MAX_DEPTH} levels`)
    const reserved = /reserved|pollution/i.test(message)
      ? /"([^"]*)"/.exec(message)?.[1]
      : undefined
    if (reserved !== undefined)
      return refuse(`XML body: the name ${showKey(reserved)} is not allowed`)
    return refuse(`XML body: ${message.slice(0, 200) || 'not well-formed'}`)
  }
  try {
    const params = normalise(tree, 0)
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      return refuse('XML body: no root element')
    }
    return { ok: true, params: params as Record<string, unknown> }
  } catch (error) {
    if (error instanceof Refusal) return refuse(error.message)
    throw error
  }
}

function countReferences(text: string): number {
  let count = 0
  for (let at = text.indexOf('&#'); at >= 0; at = text.indexOf('&#', at + 2)) {
    if (++count > MAX_XML_CHARACTER_REFERENCES) break
  }
  return count
}

/** Decodes text, folds CDATA into it, and re-checks keys on a fresh plain tree. */
function normalise(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return decodeReferences(value)
  if (depth > MAX_DEPTH * 2) throw new Refusal(`XML body: nested deeper than ${MAX_DEPTH} levels`)
  if (Array.isArray(value)) return value.map((item) => normalise(item, depth + 1))
  if (typeof value !== 'object' || value === null) return value
  const source = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(source)) {
    if (key === '#cdata') continue
    const name = key.startsWith('@') ? key.slice(1) : key
    if (isDangerousKey(name))
      throw new Refusal(`XML body: the name ${showKey(name)} is not allowed`)
    out[key] = normalise(source[key], depth + 1)
  }
  if ('#cdata' in source) {
    // CDATA is literal text: joined after the decoded text, never decoded itself.
    const cdata = ([] as unknown[]).concat(source['#cdata']).join('')
    out['#text'] = `${typeof out['#text'] === 'string' ? out['#text'] : ''}${cdata}`
  }
  const keys = Object.keys(out)
  return keys.length === 1 && keys[0] === '#text' ? out['#text'] : out
}

function decodeReferences(text: string): string {
  if (!text.includes('&')) return text
  return text.replace(REFERENCE, (_, hex: string, decimal: string, name: string) => {
    if (name !== undefined) {
      const predefined = PREDEFINED[name]
      if (predefined === undefined)
        throw new Refusal(`XML body: undeclared entity &${name.slice(0, 40)};`)
      return predefined
    }
    const code = hex !== undefined ? Number.parseInt(hex, 16) : Number.parseInt(decimal, 10)
    if (!isXmlChar(code))
      throw new Refusal(`XML body: &#${hex ? `x${hex}` : decimal}; is not an XML character`)
    return String.fromCodePoint(code)
  })
}

// The XML 1.0 Char production: no NUL or other C0 controls, no surrogates.
const isXmlChar = (code: number) =>
  code === 0x9 ||
  code === 0xa ||
  code === 0xd ||
  (code >= 0x20 && code <= 0xd7ff) ||
  (code >= 0xe000 && code <= 0xfffd) ||
  (code >= 0x10000 && code <= 0x10ffff)
