// A stranger's body at the public endpoint, over real sockets: bodies past
// the shape limits are refused with the reason and recorded `invalid`; text
// PostgreSQL cannot store is a 400, never a 500; verification still comes
// first; and XML lists read alike with one element or many.
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { callOf, createHandler, listen, send } from '../helpers/inbound.js'

const json = { 'content-type': 'application/json' }
const xml = { 'content-type': 'application/xml' }
const form = { 'content-type': 'application/x-www-form-urlencoded' }

t.test('bodies past the default limits answer 413 or 400 with the reason', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, {
    title: 'Anything',
    parameters: [{ name: 'email', type: 'string', required: false }],
    mapping: [{ source: 'email', target: 'lead.email' }],
  })
  const url = `${base}${handler.path}`
  const attributes = Array.from({ length: 90_000 }, (_, i) => `a${i}="1"`).join(' ')
  const cases: [string, Record<string, string>, string, number, string, RegExp][] = [
    [
      '90,000 attributes',
      xml,
      `<root ${attributes}><email>x</email></root>`,
      413,
      'too_many_values',
      /^XML body: more than 20000 elements and attributes/,
    ],
    [
      '120,000 sibling elements',
      xml,
      `<root>${'<e>1</e>'.repeat(120_000)}</root>`,
      413,
      'too_many_values',
      /^XML body: more than 20000 elements and attributes/,
    ],
    [
      '90,000 JSON keys',
      json,
      JSON.stringify(Object.fromEntries(Array.from({ length: 90_000 }, (_, i) => [`k${i}`, 1]))),
      413,
      'too_many_values',
      /^JSON body: more than 20000 values/,
    ],
    [
      'JSON 100,000 deep',
      json,
      `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
      400,
      'too_deep',
      /^JSON body: nested deeper than 32 levels \(at "a\[0\]/,
    ],
    [
      '5,000 form fields',
      form,
      Array.from({ length: 5000 }, (_, i) => `f${i}=1`).join('&'),
      413,
      'too_many_values',
      /^form body: more than 1000 parameters/,
    ],
  ]
  for (const [what, headers, body, status, code, reason] of cases) {
    const res = await send(url, { headers, body })
    t.equal(res.status, status, what)
    t.equal(res.json().code, code, what)
    t.match(res.json().message, reason, what)
    t.match(await callOf(app, ws.auth, res), { outcome: 'invalid', reason }, what)
  }
})

t.test('the limits are set per deployment', async (t) => {
  const { app } = await build(t, { inboundMaxValues: 5, inboundMaxDepth: 3 })
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, { title: 'Small' })
  const url = `${base}${handler.path}`
  t.equal((await send(url, { headers: json, body: '{"a":1,"b":2,"c":3,"d":4,"e":5}' })).status, 200)
  const many = await send(url, { headers: json, body: '{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}' })
  t.equal(many.status, 413)
  t.equal(many.json().message, 'JSON body: more than 5 values (keys and array items)')
  const deep = await send(url, { headers: xml, body: '<a><b><c><d>1</d></c></b></a>' })
  t.equal(deep.status, 400)
  t.equal(deep.json().code, 'too_deep')
})

t.test('verification runs before the body is parsed', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, {
    title: 'Signed',
    verification: { type: 'secret_header', header: 'X-Token', secret: 'the-secret' },
  })
  const body = `<root>${'<e>1</e>'.repeat(120_000)}</root>`
  const unsigned = await send(`${base}${handler.path}`, { headers: xml, body })
  t.equal(unsigned.status, 401, 'refused for its signature, not for its shape')
  t.match(await callOf(app, ws.auth, unsigned), { outcome: 'rejected' })
})

t.test('text PostgreSQL cannot store answers 400, recorded invalid, mapped or not', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, {
    title: 'Leads',
    parameters: [{ name: 'email', type: 'string', required: true }],
    mapping: [{ source: 'email', target: 'lead.email' }],
  })
  const url = `${base}${handler.path}`
  const cases: [string, Record<string, string>, string, RegExp][] = [
    ['mapped NUL', json, '{"email":"a\\u0000b"}', /"email" holds U\+0000/],
    ['unmapped NUL', json, '{"email":"a@b.example","note":"x\\u0000"}', /"note" holds U\+0000/],
    ['lone surrogate', json, '{"email":"a@b.example","n":["\\ud800"]}', /"n\[0\]" holds a lone/],
    ['NUL in a key', json, '{"email":"a@b.example","k\\u0000":1}', /the key "k\\u0000"/],
    ['form %00', form, 'email=a%00b', /parameter "email" holds U\+0000/],
    ['XML &#0;', xml, '<r><email>a&#0;b</email></r>', /&#0; is not an XML character/],
  ]
  for (const [what, headers, body, reason] of cases) {
    const res = await send(url, { headers, body })
    t.equal(res.status, 400, `${what}: ${res.text}`)
    t.equal(res.json().code, 'invalid_text', what)
    t.match(await callOf(app, ws.auth, res), { outcome: 'invalid', reason }, what)
  }
  const get = await createHandler(app, ws.auth, { title: 'Lookup', methods: ['GET'] })
  const query = await send(`${base}${get.path}?email=a%00b`, { method: 'GET' })
  t.equal(query.status, 400)
  t.equal(query.json().code, 'invalid_text')
  t.match(await callOf(app, ws.auth, query), { outcome: 'invalid', reason: /^query string: / })
})

t.test('an indexed XML element maps alike from one element or many', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, {
    title: 'XML tags',
    body_format: 'xml',
    parameters: [{ name: 'lead.tags.tag[0]', type: 'string', required: true }],
    mapping: [{ source: 'lead.tags.tag[0]', target: 'lead.first_tag' }],
  })
  const url = `${base}${handler.path}`
  const many = await send(url, {
    headers: xml,
    body: '<lead><tags><tag>first</tag><tag>second</tag></tags></lead>',
  })
  t.equal(many.status, 200, many.text)
  t.same((await callOf(app, ws.auth, many)).record, { lead: { first_tag: 'first' } })
  const one = await send(url, { headers: xml, body: '<lead><tags><tag>only</tag></tags></lead>' })
  t.equal(one.status, 200, one.text)
  t.same((await callOf(app, ws.auth, one)).record, { lead: { first_tag: 'only' } })
})

t.test('an address whose tokens keep being unknown waits before more lookups', async (t) => {
  // One miss a second, bursts of two: the misses below run out of it however
  // slowly a loaded machine answers them (they once ran at 5 a second, and
  // a slow run refilled the bucket as fast as it drew on it).
  const { app } = await build(t, { inboundMissesPerAddress: 1, inboundHandlerCacheMs: 60_000 })
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, { title: 'Known' })
  const body = '{"email":"a@b.example"}'
  t.equal((await send(`${base}${handler.path}`, { headers: json, body })).status, 200)
  const statuses: number[] = []
  for (let i = 0; i < 30 && statuses.at(-1) !== 429; i++) {
    const res = await send(`${base}/in/hli_${String(i).padStart(32, 'Z')}`, { headers: json, body })
    statuses.push(res.status)
    if (res.status === 429) t.ok(Number(res.headers['retry-after']) >= 1, 'with Retry-After')
  }
  t.ok(statuses.includes(404), 'unknown tokens answer 404 at first')
  t.equal(statuses.at(-1), 429, 'then 429, without a lookup')
  const known = await send(`${base}${handler.path}`, { headers: json, body })
  t.equal(known.status, 200, 'a handler already known to the process still answers')
})
