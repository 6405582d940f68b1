import { unstorableIn } from '../db/storable-text.js'
import {
  type BodyLimits,
  DEFAULT_BODY_LIMITS,
  MAX_XML_CHARACTER_REFERENCES,
  type Parsed,
  refuse,
  showKey,
} from './body-limits.js'
import { readXml, XmlRefusal } from './xml-tree.js'

/**
 * XML is read with every entity feature off: a DOCTYPE is refused before the
 * reader sees it (no billion laughs, no external entities), and nothing is
 * expanded but the five predefined entities and numeric references, which
 * expand one-for-one and which real payloads use (`Smith &amp; Co`), with a
 * cap on their number. CDATA is kept literal.
 */

const DECLARED_ENCODING = /^\s*<\?xml\s[^>]*?encoding\s*=\s*["']([^"']*)["']/
// Characters XML 1.0 does not allow anywhere, even raw: C0 controls but tab,
// LF and CR, and U+FFFE/U+FFFF.
// biome-ignore lint/suspicious/noControlCharactersInRegex: those are the characters refused
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/

export function parseXml(
  text: string,
  limits: BodyLimits = DEFAULT_BODY_LIMITS,
  listPaths: ReadonlySet<string> = new Set(),
): Parsed {
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) {
    return refuse('XML body: DOCTYPE and ENTITY declarations are not accepted')
  }
  const encoding = DECLARED_ENCODING.exec(text)?.[1]
  if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) {
    return refuse(`XML body: declares encoding ${showKey(encoding)}; send UTF-8`)
  }
  const unstorable = unstorableIn(text)
  if (unstorable) {
    return refuse(`XML body: holds ${unstorable}, which cannot be stored`, 'invalid_text')
  }
  const bad = NOT_XML.exec(text)
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')
    return refuse(`XML body: U+${code} is not an XML character${position(text, bad.index)}`)
  }
  if (countReferences(text) > MAX_XML_CHARACTER_REFERENCES) {
    return refuse(`XML body: more than ${MAX_XML_CHARACTER_REFERENCES} character references`)
  }
  try {
    return { ok: true, params: readXml(text, { limits, listPaths }) }
  } catch (error) {
    if (!(error instanceof XmlRefusal)) throw error
    return refuse(`${error.message}${position(text, error.at)}`, error.code)
  }
}

function countReferences(text: string): number {
  let count = 0
  for (let at = text.indexOf('&#'); at >= 0; at = text.indexOf('&#', at + 2)) {
    if (++count > MAX_XML_CHARACTER_REFERENCES) break
  }
  return count
}

/** ` (line 3, column 14)`, counted only when a refusal is reported. */
function position(text: string, at: number): string {
  if (at < 0) return ''
  let line = 1
  let lineStart = 0
  for (let k = text.indexOf('\n'); k >= 0 && k < at; k = text.indexOf('\n', k + 1)) {
    line++
    lineStart = k + 1
  }
  return ` (line ${line}, column ${at - lineStart + 1})`
}
