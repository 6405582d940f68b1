import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import t from 'tap'
import { scanJson } from '../../src/inbound/json-scan.js'
import { parseInboundBody } from '../../src/inbound/parse-body.js'
import { parseForm } from '../../src/inbound/parse-form.js'
import { parseJson } from '../../src/inbound/parse-json.js'

const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort()

const parse = (
  body: string | Buffer,
  format: 'json' | 'form' | 'xml' | 'multipart' | 'auto',
  contentType?: string,
) =>
  parseInboundBody({
    contentType,
    rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body),
    format,
  })

const reasonOf = (result: ReturnType<typeof parse>) => (result.ok ? 'ok' : result.reason)

t.test('JSON objects parse as sent', async (t) => {
  const result = parse('{"customer":{"email":"a@b.example","tags":["x"]},"n":1.5}', 'json')
  t.same(result, {
    ok: true,
    params: { customer: { email: 'a@b.example', tags: ['x'] }, n: 1.5 },
    format: 'json',
    ignoredFiles: 0,
  })
  t.ok(parse('\uFEFF{"a":1}', 'json').ok, 'a byte order mark is allowed')
})

t.test('JSON that is not an object, or not JSON, is refused with a reason', async (t) => {
  t.match(reasonOf(parse('[1,2]', 'json')), /top level must be an object, not an array/)
  t.match(reasonOf(parse('"x"', 'json')), /not a string/)
  t.match(reasonOf(parse('null', 'json')), /not null/)
  t.match(reasonOf(parse('{"a":1,}', 'json')), /^JSON body: .*position/)
})

t.test('JSON with reserved keys is refused, at any depth, and pollutes nothing', async (t) => {
  for (const body of [
    '{"__proto__":{"polluted":true}}',
    '{"a":{"b":[{"constructor":{"prototype":{"polluted":true}}}]}}',
    '{"a":{"prototype":1}}',
  ]) {
    t.match(
      reasonOf(parse(body, 'json')),
      /^JSON body: the key "(__proto__|constructor|prototype)" is not allowed/,
    )
  }
  t.match(reasonOf(parse('{"a":{"__proto__":1}}', 'json')), /\(in "a"\)/, 'the reason says where')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('JSON nested beyond the cap is refused, however deep', async (t) => {
  t.ok(parse(`${'{"a":'.repeat(31)}1${'}'.repeat(31)}`, 'json').ok, '31 levels are fine')
  t.match(
    reasonOf(parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`, 'json')),
    /deeper than 32 levels/,
  )
  const deep = `{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}`
  t.match(reasonOf(parse(deep, 'json')), /deeper than 32 levels/)
})

t.test('JSON past the value cap is refused as too_many_values; depth as too_deep', async (t) => {
  const limits = { maxDepth: 4, maxValues: 10, maxParameters: 1000 }
  const keys = (n: number) =>
    JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])))
  t.ok(parseJson(keys(10), limits).ok)
  t.same(parseJson(keys(11), limits), {
    ok: false,
    reason: 'JSON body: more than 10 values (keys and array items)',
    code: 'too_many_values',
  })
  t.match(parseJson('{"a":[1,2,3,4,5,6,7,8,9,10]}', limits), { ok: false, code: 'too_many_values' })
  t.same(parseJson('{"a":{"b":[{"c":{"d":1}}]}}', limits), {
    ok: false,
    reason: 'JSON body: nested deeper than 4 levels (at "a.b[0].c")',
    code: 'too_deep',
  })
})

t.test('JSON past the value cap is refused before it is parsed', async (t) => {
  const limits = { maxDepth: 32, maxValues: 20_000, maxParameters: 1000 }
  const keys = (n: number) => Array.from({ length: n }, (_, i) => `"k${i}":1`).join(',')
  // The syntax error sits past the cap: only a parse would reach it.
  t.same(parseJson(`{${keys(90_000)},oops}`, limits), {
    ok: false,
    reason: 'JSON body: more than 20000 values (keys and array items)',
    code: 'too_many_values',
  })
  t.same(parseJson(`{"a":[${'1,'.repeat(25_000)}oops]}`, limits), {
    ok: false,
    reason: 'JSON body: more than 20000 values (keys and array items)',
    code: 'too_many_values',
  })
  // At the cap, with text long enough to be scanned, it parses.
  const atCap = `{${keys(20_000)}}`
  t.ok(atCap.length > 40_000)
  t.ok(parseJson(atCap, limits).ok)
  t.match(parseJson(`{${keys(19_000)},oops}`, limits), { ok: false, code: 'invalid_body' })
  // Nesting past the cap is named as the tree check names it, and found first.
  const shallow = { ...limits, maxDepth: 4 }
  const nested = '{"a":[{"b\\"c":[[[[]]]]}]'
  const expected = {
    ok: false,
    reason: 'JSON body: nested deeper than 4 levels (at "a[0].b\\"c[0]")',
    code: 'too_deep',
  }
  t.same(parseJson(`${nested}}`, shallow), expected, 'the tree check')
  t.same(parseJson(`${nested},${keys(30_000)}}`, shallow), expected, 'the scan')
})

t.test('the scan counts what the parsed tree holds', async () => {
  const treeCount = (value: unknown): number => {
    if (Array.isArray(value)) return value.length + value.reduce((n, v) => n + treeCount(v), 0)
    if (typeof value === 'object' && value !== null)
      return Object.values(value).reduce(
        (n: number, v) => n + treeCount(v),
        Object.keys(value).length,
      )
    return 0
  }
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), (value, spaced) => {
      const text = spaced ? JSON.stringify(value, null, 2) : JSON.stringify(value)
      return scanJson(text, Number.POSITIVE_INFINITY, 100).values === treeCount(JSON.parse(text))
    }),
    { numRuns: 2000 },
  )
})

t.test('text PostgreSQL cannot store is refused as invalid_text, naming where', async (t) => {
  t.same(parse('{"customer":{"email":"a\\u0000b"}}', 'json'), {
    ok: false,
    reason: 'JSON body: the value at "customer.email" holds U+0000 (NUL), which cannot be stored',
    code: 'invalid_text',
  })
  t.match(parse('{"tags":["ok","\\ud800"]}', 'json'), {
    ok: false,
    code: 'invalid_text',
    reason: /"tags\[1\]" holds a lone UTF-16 surrogate/,
  })
  t.match(parse('{"k\\u0000":1}', 'json'), { ok: false, code: 'invalid_text', reason: /the key/ })
  t.ok(parse('{"emoji":"\\ud83d\\ude00"}', 'json').ok, 'a surrogate pair is text')
  t.match(parse('email=a%00b', 'form'), { ok: false, code: 'invalid_text', reason: /"email"/ })
  t.match(parse('email=a\u0000b', 'form'), { ok: false, code: 'invalid_text' })
})

t.test('forms nest on brackets and dots, repeat into arrays, and decode + and %', async (t) => {
  const result = parse(
    'customer[email]=a%40b.example&customer.name=Ana+Lima&tags[]=x&tags[]=y&c=1&c=2&flag&empty=&x[y][z]=%E2%82%AC',
    'form',
  )
  t.same(result.ok && result.params, {
    customer: { email: 'a@b.example', name: 'Ana Lima' },
    tags: ['x', 'y'],
    c: ['1', '2'],
    flag: '',
    empty: '',
    x: { y: { z: '€' } },
  })
})

t.test('form names that are malformed, reserved or conflicting are refused', async (t) => {
  const cases: [string, RegExp][] = [
    [
      '__proto__[polluted]=1',
      /parameter "__proto__\[polluted\]" uses the reserved key "__proto__"/,
    ],
    ['a[__proto__][polluted]=1', /reserved key "__proto__"/],
    ['a.constructor.prototype.polluted=1', /reserved key "constructor"/],
    ['a[prototype]=1', /reserved key "prototype"/],
    ['a[b=1', /unclosed \[/],
    ['a[][b]=1', /\[\] before its end/],
    ['a..b=1', /empty or malformed segment/],
    ['=1', /not a valid parameter name/],
    ['a]=1', /not a valid parameter name/],
    ['a[b]c=1', /text after a \]/],
    ['a=1&a[b]=2', /used both as a value and as a group/],
    ['a[b]=2&a=1', /used both as a value and as a group/],
    [`${'a'}${'[b]'.repeat(40)}=1`, /deeper than 32 levels/],
  ]
  for (const [body, reason] of cases) t.match(reasonOf(parse(body, 'form')), reason, body)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('forms are capped at 1000 parameters, and bad encodings are refused', async (t) => {
  const pairs = (n: number) => Array.from({ length: n }, (_, i) => `p${i}=${i}`).join('&')
  t.ok(parse(pairs(1000), 'form').ok)
  t.equal(reasonOf(parse(pairs(1001), 'form')), 'form body: more than 1000 parameters')
  t.equal(reasonOf(parse('&'.repeat(1_000_000), 'form')), 'ok', 'empty pairs are not parameters')
  t.match(reasonOf(parse('a=%E2%82', 'form')), /parameter 1 is not valid percent-encoded UTF-8/)
  t.match(reasonOf(parse('a=1&b=%zz', 'form')), /parameter 2 is not valid percent-encoded UTF-8/)
})

t.test('invalid UTF-8 and foreign charsets are refused', async (t) => {
  for (const bytes of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
    const body = Buffer.concat([Buffer.from('a='), Buffer.from(bytes)])
    t.equal(reasonOf(parse(body, 'form')), 'the body is not valid UTF-8')
    t.equal(reasonOf(parse(body, 'json')), 'the body is not valid UTF-8')
  }
  t.match(
    reasonOf(parse('a=1', 'form', 'application/x-www-form-urlencoded; charset=ISO-8859-1')),
    /charset "ISO-8859-1"/,
  )
  t.ok(parse('a=1', 'form', 'application/x-www-form-urlencoded; charset=UTF-8').ok)
})

t.test('auto goes by content-type, then by the first byte', async (t) => {
  const formatOf = (body: string, type?: string) => {
    const result = parse(body, 'auto', type)
    return result.ok ? result.format : result.reason
  }
  t.equal(formatOf('{"a":1}', 'application/json; charset=utf-8'), 'json')
  t.equal(formatOf('{"a":1}', 'application/vnd.api+json'), 'json')
  t.equal(formatOf('a=1', 'application/x-www-form-urlencoded'), 'form')
  t.equal(formatOf('<a>1</a>', 'text/xml'), 'xml')
  t.equal(formatOf('<a>1</a>', 'application/atom+xml'), 'xml')
  t.equal(formatOf('  {"a":1}', 'text/plain'), 'json')
  t.equal(formatOf('\uFEFF{"a":1}'), 'json')
  t.equal(formatOf('<a>1</a>'), 'xml')
  t.equal(formatOf('a=1'), 'form')
  t.equal(
    formatOf('a=1', 'multipart/form-data'),
    'multipart body: content-type must be multipart/form-data with a boundary',
  )
})

t.test('a configured format wins over a mislabelled content-type', async (t) => {
  const result = parse('{"a":1}', 'json', 'text/plain')
  t.same(result.ok && result.params, { a: 1 })
  const form = parse('a=1', 'form', 'application/json')
  t.same(form.ok && form.params, { a: '1' })
})

t.test('an empty body is no parameters in every format', async (t) => {
  for (const format of ['json', 'form', 'xml', 'multipart', 'auto'] as const) {
    t.same(parse('', format), {
      ok: true,
      params: {},
      format: format === 'auto' ? 'form' : format,
      ignoredFiles: 0,
    })
    t.ok(parse(' \r\n', format).ok)
  }
})

t.test('no parser throws on arbitrary bytes or text', async () => {
  const formats = ['json', 'form', 'xml', 'multipart', 'auto'] as const
  const contentTypes = fc.option(
    fc.oneof(
      fc.constantFrom(
        'application/json',
        'multipart/form-data; boundary=x',
        'text/xml',
        'text/plain; charset=utf-8',
      ),
      fc.string(),
    ),
    { nil: undefined },
  )
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 512 }),
      fc.constantFrom(...formats),
      contentTypes,
      (bytes, format, type) => {
        const result = parseInboundBody({ contentType: type, rawBody: Buffer.from(bytes), format })
        return result.ok ? typeof result.params === 'object' : typeof result.reason === 'string'
      },
    ),
    { numRuns: 3000 },
  )
  // Straight at the parsers, past parseInboundBody's catch-all, so a throw is seen.
  const texts = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.json(),
    fc.stringMatching(/^[a-z[\]=&.%+0-9]{0,60}$/),
  )
  fc.assert(
    fc.property(texts, (text) => {
      const json = parseJson(text)
      const form = parseForm(text)
      return [json, form].every((r) =>
        r.ok ? typeof r.params === 'object' : typeof r.reason === 'string',
      )
    }),
    { numRuns: 5000 },
  )
})

t.test('JSON objects round-trip, or are refused for a reserved key', async () => {
  const hasReservedKey = (value: unknown): boolean =>
    typeof value === 'object' &&
    value !== null &&
    Object.entries(value).some(
      ([key, child]) =>
        ['__proto__', 'constructor', 'prototype'].includes(key) || hasReservedKey(child),
    )
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 6 })), (value) => {
      const text = JSON.stringify(value)
      const result = parseJson(text)
      if (hasReservedKey(JSON.parse(text))) return !result.ok
      return isDeepStrictEqual(result, { ok: true, params: JSON.parse(text) })
    }),
    { numRuns: 1000 },
  )
})

type FormTree = { [key: string]: string | string[] | FormTree }

function encodeForm(tree: FormTree, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([key, value]) => {
    const name = prefix === '' ? key : `${prefix}[${key}]`
    if (typeof value === 'string')
      return [`${encodeURIComponent(name)}=${encodeURIComponent(value)}`]
    if (Array.isArray(value))
      return value.map((item) => `${encodeURIComponent(`${name}[]`)}=${encodeURIComponent(item)}`)
    return encodeForm(value, name)
  })
}

t.test('form trees round-trip through an encoder', async () => {
  const key = fc
    .string({ minLength: 1, maxLength: 8, unit: 'grapheme' })
    .filter((k) => !/[.[\]]/.test(k) && !['__proto__', 'constructor', 'prototype'].includes(k))
  const { tree } = fc.letrec<{ tree: FormTree; value: string | string[] | FormTree }>((tie) => ({
    tree: fc.dictionary(key, tie('value'), {
      minKeys: 1,
      maxKeys: 4,
      depthIdentifier: 'form',
      noNullPrototype: true,
    }),
    value: fc.oneof(
      { depthSize: 'small', depthIdentifier: 'form' },
      fc.string({ unit: 'grapheme' }),
      fc.array(fc.string({ unit: 'grapheme' }), { minLength: 1, maxLength: 3 }),
      tie('tree'),
    ),
  }))
  fc.assert(
    fc.property(tree, (value) => {
      return isDeepStrictEqual(parseForm(encodeForm(value).join('&')), { ok: true, params: value })
    }),
    { numRuns: 500 },
  )
})

t.test('Object.prototype is untouched by everything above', async (t) => {
  t.same(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeBefore)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})
