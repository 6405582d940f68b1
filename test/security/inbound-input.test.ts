// Hostile bodies at the public endpoint, over a real socket: XML entity
// expansion, external entities, numeric-reference floods, 10,000 form
// parameters, `a[__proto__][x]=1`, invalid UTF-8. Each is answered with a
// clear 4xx, recorded in the call log as refused with its reason, and
// forwards nothing; the process's objects are untouched.
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { callOf, createHandler, listen, send } from '../helpers/inbound.js'
import { startReceiver } from '../helpers/receiver.js'
import { assertError } from './helpers.js'

const testApp = await build(t)

t.test('hostile bodies are refused, recorded with the reason, and forward nothing', async (t) => {
  const { app, database } = testApp
  const crm = await startReceiver(t)
  const ws = await createWorkspace(app)
  await app.inject({
    method: 'PATCH',
    url: '/v1/settings',
    headers: ws.auth,
    payload: { crm_callback_url: `${crm.url}/crm` },
  })
  const base = await listen(t, app)
  const parameters = [
    { name: 'email', type: 'string', required: false },
    { name: 'a', type: 'string', required: false },
  ]
  const mapping = [{ source: 'email', target: 'lead.email' }]
  const xml = await createHandler(app, ws.auth, {
    title: 'xml',
    body_format: 'xml',
    parameters,
    mapping,
  })
  const form = await createHandler(app, ws.auth, {
    title: 'form',
    body_format: 'form',
    parameters,
    mapping,
  })
  const json = await createHandler(app, ws.auth, {
    title: 'json',
    body_format: 'json',
    parameters,
    mapping,
  })
  const laughs = [
    '<?xml version="1.0"?>',
    '<!DOCTYPE lolz [<!ENTITY lol "lol">',
    ...Array.from({ length: 9 }, (_, i) => {
      const prev = i === 0 ? 'lol' : `lol${i}`
      return `<!ENTITY lol${i + 1} "${`&${prev};`.repeat(10)}">`
    }),
    ']><x><email>&lol9;</email></x>',
  ].join('')
  const cases: [string, string, string, string | Buffer, RegExp][] = [
    ['billion laughs', xml.path, 'application/xml', laughs, /^XML body: .*ENTITY/],
    [
      'an external entity',
      xml.path,
      'application/xml',
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x><email>&e;</email></x>',
      /^XML body: .*ENTITY/,
    ],
    [
      'a parameter entity',
      xml.path,
      'application/xml',
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://169.254.169.254/">%p;]><x/>',
      /^XML body: .*ENTITY/,
    ],
    [
      'a flood of numeric references',
      xml.path,
      'application/xml',
      `<x><email>${'&#65;'.repeat(200_000)}</email></x>`,
      /^XML body: .*character references/,
    ],
    [
      '10,000 form parameters',
      form.path,
      'application/x-www-form-urlencoded',
      Array.from({ length: 10_000 }, (_, i) => `p${i}=1`).join('&'),
      /^form body: more than \d+ parameters/,
    ],
    [
      'a[__proto__][x]=1',
      form.path,
      'application/x-www-form-urlencoded',
      'a[__proto__][x]=1',
      /__proto__/,
    ],
    [
      'a[constructor][prototype][x]=1',
      form.path,
      'application/x-www-form-urlencoded',
      'email=a&a[constructor][prototype][x]=1',
      /constructor/,
    ],
    [
      '__proto__ in JSON',
      json.path,
      'application/json',
      '{"__proto__":{"x":1},"email":"a"}',
      /__proto__/,
    ],
    [
      'invalid UTF-8 in JSON',
      json.path,
      'application/json',
      Buffer.concat([Buffer.from('{"email":"a'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
      /UTF-8/,
    ],
    [
      'invalid UTF-8 in a form',
      form.path,
      'application/x-www-form-urlencoded',
      Buffer.concat([Buffer.from('email=a'), Buffer.from([0xff, 0xfe])]),
      /UTF-8/,
    ],
  ]
  for (const [what, path, type, body, reason] of cases) {
    const res = await send(`${base}${path}`, { headers: { 'content-type': type }, body })
    // Too many parameters is too large a body (413); everything else is malformed (400).
    const status = what === '10,000 form parameters' ? 413 : 400
    assertError(t, { statusCode: res.status, body: res.text }, status, reason, what)
    t.match(
      await callOf(app, ws.auth, res),
      { outcome: 'invalid', reason, response_status: status },
      `${what}: recorded, refused, with the reason`,
    )
  }
  t.equal(({} as Record<string, unknown>).x, undefined, 'Object.prototype is untouched')
  const notices = async () => {
    const { rows } = await database.pool.query<{ n: number }>(
      "select count(*)::int as n from deliveries where workspace_id = $1 and kind = 'notice'",
      [ws.id],
    )
    return rows[0]!.n
  }
  t.equal(await notices(), 0, 'nothing was forwarded')
  // The control: a plain call through the same handler is accepted and forwarded.
  const plain = await send(`${base}${form.path}`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'email=a%40example.com',
  })
  t.equal(plain.status, 200)
  t.match(await callOf(app, ws.auth, plain), { outcome: 'accepted' })
  t.equal(await notices(), 1, 'the plain call was forwarded')
})
