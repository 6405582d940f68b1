import { type BodyLimits, isDangerousKey, type RefusalCode, showKey } from './body-limits.js'

/**
 * The parameters of an XML document, read in one pass over the text: each
 * element becomes a key (its namespace prefix dropped), attributes `@name`,
 * text a string (or `#text` beside attributes and children), repeated
 * elements an array. Written here rather than taken from a library because
 * a stranger's body must cost time linear in its length, with the caps
 * counted as it goes: the library this replaced spent seconds on a megabyte
 * of attributes or sibling elements. Strict: anything not well-formed is
 * refused with its line and column, never guessed at.
 *
 * No DTD, no entity expansion: the caller refuses DOCTYPE and ENTITY before
 * this runs; only the five predefined entities and character references are
 * decoded.
 */

export class XmlRefusal extends Error {
  constructor(
    message: string,
    readonly code: RefusalCode = 'invalid_body',
    readonly at = -1,
  ) {
    super(message)
  }
}

export interface XmlOptions {
  limits: BodyLimits
  /** Element paths (`lead.tags.tag`) read as a list however many times the element occurs. */
  listPaths: ReadonlySet<string>
}

interface Open {
  /** As written, for the closing tag. */
  name: string
  key: string
  path: string
  node: Record<string, unknown> | null
  text: string
}

// XML's Name, simplified: any non-ASCII character counts as a name character.
const NAME = /[A-Za-z_:\u00C0-\uFFFF][\w.:\u00B7\u00C0-\uFFFF-]*/y
const REFERENCE = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|([A-Za-z_][\w.-]{0,40}));/y
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

const isSpace = (code: number) => code === 0x20 || code === 0x0a || code === 0x09 || code === 0x0d

export function readXml(text: string, options: XmlOptions): Record<string, unknown> {
  const { maxDepth, maxValues } = options.limits
  const lists = options.listPaths
  const n = text.length
  const stack: Open[] = []
  let root: Record<string, unknown> | null = null
  let values = 0
  let i = 0

  const skipSpace = () => {
    while (i < n && isSpace(text.charCodeAt(i))) i++
  }
  const name = (what: string): string => {
    NAME.lastIndex = i
    const match = NAME.exec(text)
    if (match === null) throw new XmlRefusal(`XML body: ${what} has no valid name`, undefined, i)
    i += match[0].length
    return match[0]
  }
  const expectEnd = (marker: string, what: string) => {
    const end = text.indexOf(marker, i)
    if (end < 0) throw new XmlRefusal(`XML body: ${what} is not closed`, undefined, i)
    i = end + marker.length
  }
  const count = () => {
    if (++values > maxValues) {
      throw new XmlRefusal(
        `XML body: more than ${maxValues} elements and attributes`,
        'too_many_values',
      )
    }
  }

  const close = (open: Open) => {
    let value: unknown = open.text
    if (open.node !== null) {
      if (open.text !== '') open.node['#text'] = open.text
      value = open.node
    }
    const parent = stack[stack.length - 1]
    if (parent === undefined) {
      root = { [open.key]: value }
      return
    }
    parent.node ??= {}
    const siblings = parent.node
    // Element values are strings and objects, never arrays: an array is the list made here.
    if (!Object.hasOwn(siblings, open.key))
      siblings[open.key] = lists.has(open.path) ? [value] : value
    else {
      const existing = siblings[open.key]
      if (Array.isArray(existing)) existing.push(value)
      else siblings[open.key] = [existing, value]
    }
  }

  const openTag = () => {
    const at = i
    i++ // <
    const qualified = name('an element')
    const key = localName(qualified, at)
    count()
    if (stack.length >= maxDepth)
      throw new XmlRefusal(`XML body: nested deeper than ${maxDepth} levels`, 'too_deep', at)
    if (stack.length === 0 && root !== null)
      throw new XmlRefusal('XML body: more than one root element', undefined, at)
    const parent = stack[stack.length - 1]
    const path = lists.size === 0 ? '' : parent ? `${parent.path}.${key}` : key
    const open: Open = { name: qualified, key, path, node: null, text: '' }
    let nextLt = 0
    for (;;) {
      const before = i
      skipSpace()
      const code = text.charCodeAt(i)
      if (code === 0x3e /* > */) {
        i++
        stack.push(open)
        return
      }
      if (code === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x3e) {
        i += 2
        close(open)
        return
      }
      if (i >= n) throw new XmlRefusal(`XML body: <${qualified}> is not closed`, undefined, at)
      if (i === before)
        throw new XmlRefusal(`XML body: <${qualified}> has malformed attributes`, undefined, i)
      const attributeAt = i
      const attribute = name(`an attribute of <${qualified}>`)
      skipSpace()
      if (text.charCodeAt(i) !== 0x3d /* = */)
        throw new XmlRefusal(`XML body: attribute ${attribute} has no value`, undefined, i)
      i++
      skipSpace()
      const quote = text[i]
      if (quote !== '"' && quote !== "'")
        throw new XmlRefusal(`XML body: attribute ${attribute} is not quoted`, undefined, i)
      const end = text.indexOf(quote, i + 1)
      if (end < 0)
        throw new XmlRefusal(`XML body: attribute ${attribute} is not closed`, undefined, i)
      // The next < is looked for once per tag, not once per attribute.
      if (nextLt <= i) nextLt = text.indexOf('<', i + 1) >>> 0
      if (nextLt < end)
        throw new XmlRefusal(`XML body: attribute ${attribute} holds a <`, undefined, nextLt)
      const raw = text.slice(i + 1, end)
      i = end + 1
      count()
      if (attribute === 'xmlns' || attribute.startsWith('xmlns:')) continue
      const attributeKey = `@${localName(attribute, attributeAt)}`
      open.node ??= {}
      if (Object.hasOwn(open.node, attributeKey))
        throw new XmlRefusal(`XML body: attribute ${attribute} is repeated`, undefined, attributeAt)
      open.node[attributeKey] = decode(raw.trim(), attributeAt)
    }
  }

  const closeTag = () => {
    const at = i
    i += 2 // </
    const qualified = name('a closing tag')
    skipSpace()
    if (text.charCodeAt(i) !== 0x3e)
      throw new XmlRefusal(`XML body: closing tag </${qualified}> is malformed`, undefined, at)
    i++
    const open = stack.pop()
    if (open === undefined)
      throw new XmlRefusal(`XML body: closing tag </${qualified}> has no element`, undefined, at)
    if (open.name !== qualified) {
      throw new XmlRefusal(
        `XML body: closing tag </${qualified}> does not match <${open.name}>`,
        undefined,
        at,
      )
    }
    close(open)
  }

  while (i < n) {
    const lt = text.indexOf('<', i)
    const end = lt < 0 ? n : lt
    if (end > i) {
      const top = stack[stack.length - 1]
      if (top === undefined) {
        for (let k = i; k < end; k++) {
          if (!isSpace(text.charCodeAt(k))) {
            const where = root === null ? 'before' : 'after'
            throw new XmlRefusal(`XML body: text ${where} the root element`, undefined, k)
          }
        }
      } else {
        const piece = text.slice(i, end).trim()
        if (piece !== '') top.text += decode(piece, i)
      }
      i = end
      if (lt < 0) break
    }
    const next = text.charCodeAt(i + 1)
    if (next === 0x2f /* / */) closeTag()
    else if (next === 0x3f /* ? */) {
      i += 2
      expectEnd('?>', 'a processing instruction')
    } else if (next === 0x21 /* ! */) {
      if (text.startsWith('<!--', i)) {
        i += 4
        expectEnd('-->', 'a comment')
      } else if (text.startsWith('<![CDATA[', i)) {
        const top = stack[stack.length - 1]
        if (top === undefined)
          throw new XmlRefusal('XML body: CDATA outside the root element', undefined, i)
        const start = i + 9
        i = start
        expectEnd(']]>', 'a CDATA section')
        top.text += text.slice(start, i - 3)
      } else throw new XmlRefusal('XML body: unexpected <! markup', undefined, i)
    } else openTag()
  }
  const unclosed = stack.pop()
  if (unclosed !== undefined)
    throw new XmlRefusal(`XML body: <${unclosed.name}> is not closed`, undefined, n)
  if (root === null) throw new XmlRefusal('XML body: no root element')
  return root
}

/** The name without its namespace prefix; reserved names refused. */
function localName(qualified: string, at: number): string {
  const colon = qualified.lastIndexOf(':')
  const local = colon < 0 ? qualified : qualified.slice(colon + 1)
  if (local === '') throw new XmlRefusal(`XML body: ${showKey(qualified)} is not a valid name`)
  if (isDangerousKey(local))
    throw new XmlRefusal(`XML body: the name ${showKey(local)} is not allowed`, undefined, at)
  return local
}

/** Text with its references decoded; a bare `&` is refused, as XML requires. */
function decode(text: string, at: number): string {
  let amp = text.indexOf('&')
  if (amp < 0) return text
  let out = ''
  let from = 0
  while (amp >= 0) {
    REFERENCE.lastIndex = amp
    const match = REFERENCE.exec(text)
    if (match === null)
      throw new XmlRefusal('XML body: a bare & (write &amp;)', undefined, at + amp)
    const [whole, hex, decimal, entity] = match
    out += text.slice(from, amp) + character(hex, decimal, entity, at + amp)
    from = amp + whole.length
    amp = text.indexOf('&', from)
  }
  return out + text.slice(from)
}

function character(
  hex: string | undefined,
  decimal: string | undefined,
  entity: string | undefined,
  at: number,
): string {
  if (entity !== undefined) {
    const predefined = PREDEFINED[entity]
    if (predefined === undefined)
      throw new XmlRefusal(`XML body: undeclared entity &${entity};`, undefined, at)
    return predefined
  }
  const code = hex !== undefined ? Number.parseInt(hex, 16) : Number.parseInt(decimal!, 10)
  if (!isXmlChar(code)) {
    throw new XmlRefusal(
      `XML body: &#${hex !== undefined ? `x${hex}` : decimal}; is not an XML character`,
      code === 0 ? 'invalid_text' : 'invalid_body',
      at,
    )
  }
  return String.fromCodePoint(code)
}

// The XML 1.0 Char production: no NUL or other C0 controls, no surrogates.
const isXmlChar = (code: number) =>
  code === 0x9 ||
  code === 0xa ||
  code === 0xd ||
  (code >= 0x20 && code <= 0xd7ff) ||
  (code >= 0xe000 && code <= 0xfffd) ||
  (code >= 0x10000 && code <= 0x10ffff)
