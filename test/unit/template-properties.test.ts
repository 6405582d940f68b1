import fc from 'fast-check'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import t from 'tap'
import {
  renderFormPairs,
  renderHeaderValue,
  renderJson,
  renderJsonPairs,
  renderUrl,
  renderXml,
} from '../../src/templates/render.js'

/**
 * Whatever a field holds, each format's output stays a valid document and
 * gives the value back. The strings below include every code unit: controls,
 * quotes, markup, lone surrogates and astral characters.
 */

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
const nastyChar = fc.constantFrom(
  '"',
  "'",
  '\\',
  '<',
  '>',
  '&',
  ']]>',
  '--',
  '\r',
  '\n',
  '\t',
  '\0',
  '\u2028',
  '{{',
  '%}',
)
const anyString = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: codeUnit }),
  fc.string({
    unit: fc.oneof(codeUnit, nastyChar, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
  }),
)

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const wellFormed = (s: string) => s.replace(LONE_SURROGATE, '\uFFFD')
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const NOT_XML_CHAR = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g
const xmlSafe = (s: string) => s.replace(LONE_SURROGATE, '').replace(NOT_XML_CHAR, '')

const runs = { numRuns: 300 }

t.test(
  'JSON: any string inside a string literal round-trips exactly, lone surrogates too',
  async (t) => {
    fc.assert(
      fc.property(anyString, (v) => {
        const doc = JSON.parse(renderJson('{"v": "{{ v }}", "w": "<{{ v }}>"}', { v }))
        return doc.v === v && doc.w === `<${v}>`
      }),
      runs,
    )
    t.pass()
  },
)

t.test('JSON: any JSON value as a bare value round-trips', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const doc = JSON.parse(renderJson('{"v": {{ v }}, "list": [{{ v }}, {{ v }}]}', { v }))
      const expected = JSON.parse(JSON.stringify(v))
      t.same(doc, { v: expected, list: [expected, expected] })
    }),
    { numRuns: 200 },
  )
})

t.test('JSON: a long string stays valid', async (t) => {
  // About 200 KB of characters that all need escaping, twice: under the 1 MiB limit.
  const v = '"\\\n</script>\ud800'.repeat(12_000)
  const [inString, bare] = JSON.parse(renderJson('["{{ v }}", {{ v }}]', { v }))
  t.equal(inString, v)
  t.equal(bare, v)
})

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  htmlEntities: true,
})

t.test('XML: any string keeps the document well-formed and decodes back', async (t) => {
  fc.assert(
    fc.property(anyString, (v) => {
      const xml = renderXml(
        '<r a="{{ v }}" b=\'{{ v }}\'><t>{{ v }}</t><c><![CDATA[{{ v }}]]></c><!--{{ v }}--></r>',
        { v },
      )
      if (XMLValidator.validate(xml) !== true) return false
      // search(), unlike test(), ignores the global regexps' lastIndex.
      if (xml.search(NOT_XML_CHAR) !== -1 || xml.search(LONE_SURROGATE) !== -1) return false
      const r = xmlParser.parse(xml).r
      const text = (node: unknown) => (node === '' || node === undefined ? '' : node)
      const expected = xmlSafe(v)
      t.equal(r['@_a'], expected)
      t.equal(r['@_b'], expected)
      t.equal(text(r.t), expected)
      return true
    }),
    runs,
  )
})

t.test('XML: CDATA content decodes back', async (t) => {
  const cdataParser = new XMLParser({
    trimValues: false,
    parseTagValue: false,
    htmlEntities: true,
    cdataPropName: false,
  })
  fc.assert(
    fc.property(anyString, (v) => {
      const xml = renderXml('<c><![CDATA[{{ v }}]]></c>', { v })
      t.equal(XMLValidator.validate(xml), true)
      const c = cdataParser.parse(xml).c
      t.equal(c === undefined ? '' : String(c), xmlSafe(v))
    }),
    runs,
  )
})

t.test('URL: any string stays one component and decodes back', async (t) => {
  fc.assert(
    fc.property(anyString, (v) => {
      const url = new URL(
        renderUrl('https://crm.example/leads/{{ v }}/notes?q={{ v }}&k=1#{{ v }}', { v }),
      )
      const expected = wellFormed(v)
      const segments = url.pathname.split('/')
      return (
        url.origin === 'https://crm.example' &&
        segments.length === 4 &&
        segments[3] === 'notes' &&
        decodeURIComponent(segments[2]!) === expected &&
        url.searchParams.get('q') === expected &&
        url.searchParams.get('k') === '1' &&
        [...url.searchParams.keys()].length === 2 &&
        decodeURIComponent(url.hash.slice(1)) === expected
      )
    }),
    runs,
  )
  t.pass()
})

t.test('form and JSON pairs: any key and value round-trip', async (t) => {
  fc.assert(
    fc.property(anyString, anyString, (key, v) => {
      const pairs = [
        { key, value: '{{ v }}' },
        { key: 'mixed', value: 'x {{ v }} y' },
      ]
      const form = new URLSearchParams(renderFormPairs(pairs, { v }))
      const json = JSON.parse(renderJsonPairs(pairs, { v }))
      return (
        form.get(wellFormed(key)) === (key === 'mixed' ? `x ${wellFormed(v)} y` : wellFormed(v)) &&
        form.get('mixed') === `x ${wellFormed(v)} y` &&
        json.mixed === `x ${v} y` &&
        (key === 'mixed' || json[key] === v)
      )
    }),
    runs,
  )
  t.pass()
})

t.test('header values: never a line break or NUL, always sendable', async (t) => {
  fc.assert(
    fc.property(anyString, (v) => {
      const value = renderHeaderValue('X {{ v }}', { v })
      return /^[\t\x20-\x7e\x80-\xff]*$/.test(value) && !/[\r\n\0]/.test(value)
    }),
    runs,
  )
  t.pass()
})
