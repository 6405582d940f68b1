// Bad input: each is a clear 4xx in the one error shape, naming the field,
// and changes nothing. Framing and timing attacks go over a real socket.
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createRule, ruleBody } from '../helpers/outbound.js'
import { assertError, pause, rawHttp, snapshot } from './helpers.js'

const url = 'https://receiver.example.com/hook'
const limit = 4096

// One app and database for the file (each test has its own workspace); small
// limits, so the socket tests need not send megabytes nor wait long.
const testApp = await build(t, { bodyLimitBytes: limit, requestTimeoutMs: 1000 })

t.test('JSON that tries to reach a prototype is refused', async (t) => {
  const { app, database } = testApp
  const ws = await createWorkspace(app)
  const rule = await createRule(app, ws, ruleBody(url))
  const before = await snapshot(database)
  const send = (method: 'POST' | 'PATCH', path: string, body: string) =>
    app.inject({
      method,
      url: path,
      headers: { ...ws.auth, 'content-type': 'application/json' },
      payload: body,
    })
  const cases: [string, 'POST' | 'PATCH', string, string][] = [
    ['__proto__ at the top', 'POST', '/v1/rules', `{"__proto__":{"polluted":1},"title":"x"}`],
    [
      '__proto__ nested in the request',
      'POST',
      '/v1/rules',
      JSON.stringify(ruleBody(url)).replace('"method"', '"__proto__":{"polluted":1},"method"'),
    ],
    [
      'constructor.prototype',
      'PATCH',
      `/v1/rules/${rule.id}`,
      '{"title":"y","constructor":{"prototype":{"polluted":1}}}',
    ],
    [
      '__proto__ in event fields',
      'POST',
      '/v1/events',
      '{"type":"lead.created","record":{"entity_type":"lead","entity_id":"1","fields":{"__proto__":{"polluted":1}}}}',
    ],
    ['__proto__ in settings', 'PATCH', '/v1/settings', '{"__proto__":{"webhooks_enabled":false}}'],
  ]
  for (const [what, method, path, body] of cases) {
    const res = await send(method, path, body)
    assertError(t, res, 400, /prototype|constructor/i, what)
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched')
  t.same(await snapshot(database), before, 'nothing changed')
})

t.test('unknown and mistyped properties are refused, not stripped or coerced', async (t) => {
  const { app, database } = testApp
  const ws = await createWorkspace(app)
  const rule = await createRule(app, ws, ruleBody(url))
  const before = await snapshot(database)
  const cases: [string, string, string, unknown, RegExp][] = [
    ['POST', '/v1/rules', 'unknown top level', ruleBody(url, { colour: 1 }), /^body\/colour: /],
    [
      'POST',
      '/v1/rules',
      'unknown in auth',
      ruleBody(url, { auth: { type: 'bearer', token: 't', extra: 1 } }),
      /^body\/auth/,
    ],
    ['PATCH', `/v1/rules/${rule.id}`, 'boolean as text', { enabled: 'true' }, /^body\/enabled: /],
    [
      'PATCH',
      `/v1/rules/${rule.id}`,
      'integer as text',
      { execution: { max_attempts: '3' } },
      /^body\/execution\/max_attempts: /,
    ],
    [
      'PATCH',
      `/v1/rules/${rule.id}`,
      'a string for a list',
      { event_types: 'lead.created' },
      /^body\/event_types: /,
    ],
    ['PATCH', `/v1/rules/${rule.id}`, 'a number for a title', { title: 7 }, /^body\/title: /],
    ['PATCH', `/v1/rules/${rule.id}`, 'an empty patch', {}, /^body/],
    ['PATCH', '/v1/settings', 'unknown setting', { colour: 'red' }, /^body\/colour: /],
    [
      'PATCH',
      '/v1/settings',
      'retention as text',
      { retention_days: '30' },
      /^body\/retention_days: /,
    ],
    [
      'POST',
      '/v1/events',
      'unknown in the record',
      { type: 'lead.created', record: { entity_type: 'l', entity_id: '1', fields: {}, x: 1 } },
      /^body\/record\/x: /,
    ],
    [
      'POST',
      '/v1/events',
      'an event type that is not one',
      { type: 'Lead Created!', record: { entity_type: 'l', entity_id: '1', fields: {} } },
      /^body\/type: /,
    ],
    ['POST', '/v1/events/batch', 'an empty batch', { events: [] }, /^body\/events: /],
    [
      'POST',
      '/v1/settings/signing-secret/rotate',
      'overlap as text',
      { overlap_seconds: '60' },
      /^body\/overlap_seconds: /,
    ],
    [
      'POST',
      '/v1/deliveries/retry-failed',
      'unknown filter',
      { rule_id: rule.id, since: '2026-11-01T00:00:00Z', colour: 1 },
      /^body\/colour: /,
    ],
    [
      'PUT',
      `/v1/rules/${rule.id}/references`,
      'references as an object',
      { references: { a: 1 } },
      /^body\/references: /,
    ],
  ]
  for (const [method, path, what, payload, message] of cases) {
    const res = await app.inject({
      method: method as 'POST',
      url: path,
      headers: ws.auth,
      payload: payload as object,
    })
    assertError(t, res, 400, message, what)
  }
  t.same(await snapshot(database), before, 'nothing changed')
})

t.test('invalid templates, condition trees, URLs and header names in rules', async (t) => {
  const { app, database } = testApp
  const ws = await createWorkspace(app)
  const before = await snapshot(database)
  const request = (extra: Record<string, unknown>) => ({
    request: { method: 'POST', url, body_format: 'json', ...extra },
  })
  const deep = (n: number): Record<string, unknown> =>
    n === 0 ? { field: 'lead.a', op: 'equals', value: 1 } : { all: [deep(n - 1)] }
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['unclosed output', request({ body_template: '{"a":"{{ lead.a "}' }), /body_template/],
    ['unclosed tag', request({ body_template: '{% if lead.a %}x' }), /body_template/],
    ['unknown filter', request({ body_template: '{{ lead.a | explode }}' }), /body_template/],
    ['unknown tag', request({ body_template: '{% include "x" %}' }), /body_template/],
    ['bad header template', request({ headers: [{ name: 'X-A', value: '{{' }] }), /headers/],
    [
      'unknown operator',
      { conditions: { all: [{ field: 'a.b', op: 'near', value: 1 }] } },
      /conditions/,
    ],
    ['both all and any', { conditions: { all: [], any: [] } }, /conditions/],
    ['a test that is a string', { conditions: { any: ['lead.a = 1'] } }, /conditions/],
    ['a tree too deep', { conditions: deep(64) }, /conditions/],
    [
      'greater_than an object',
      { conditions: { all: [{ field: 'a.b', op: 'greater_than', value: { x: 1 } }] } },
      /conditions/,
    ],
    [
      'no scheme',
      { request: { method: 'POST', url: 'receiver.example.com/x', body_format: 'json' } },
      /body\/request\/url/,
    ],
    [
      'javascript:',
      { request: { method: 'POST', url: 'javascript:alert(1)', body_format: 'json' } },
      /body\/request\/url/,
    ],
    [
      'unclosed IPv6',
      { request: { method: 'POST', url: 'http://[::1/x', body_format: 'json' } },
      /body\/request\/url/,
    ],
    [
      'bad port',
      { request: { method: 'POST', url: 'https://x.example:99999/', body_format: 'json' } },
      /body\/request\/url/,
    ],
    [
      'too long',
      {
        request: {
          method: 'POST',
          url: `https://x.example/${'a'.repeat(2100)}`,
          body_format: 'json',
        },
      },
      /body\/request\/url/,
    ],
    [
      'method TRACE',
      { request: { method: 'TRACE', url, body_format: 'json' } },
      /body\/request\/method/,
    ],
    [
      'space in a header name',
      request({ headers: [{ name: 'X Bad', value: '1' }] }),
      /body\/request\/headers\/0\/name/,
    ],
    [
      'CRLF in a header name',
      request({ headers: [{ name: 'X-A\r\nX-B', value: '1' }] }),
      /body\/request\/headers\/0\/name/,
    ],
    [
      'non-ASCII header name',
      request({ headers: [{ name: 'X-Évil', value: '1' }] }),
      /body\/request\/headers\/0\/name/,
    ],
    [
      'empty header name',
      request({ headers: [{ name: '', value: '1' }] }),
      /body\/request\/headers\/0\/name/,
    ],
    [
      'CRLF in a custom auth header',
      { auth: { type: 'header', name: 'X-Key', value: 'k\r\nX-Injected: 1' } },
      /body\/auth/,
    ],
    [
      'space in a custom auth header name',
      { auth: { type: 'header', name: 'X Key', value: 'k' } },
      /body\/auth/,
    ],
  ]
  for (const [what, overrides, message] of cases) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/rules',
      headers: ws.auth,
      payload: ruleBody(url, overrides),
    })
    assertError(t, res, 400, message, what)
  }
  t.same(await snapshot(database), before, 'nothing changed')
})

t.test('a body that is not valid UTF-8 is refused', async (t) => {
  const { app, database } = testApp
  const ws = await createWorkspace(app)
  const before = await snapshot(database)
  const bad = [
    Buffer.from([0xff, 0xfe]),
    Buffer.from([0xc0, 0xaf]), // overlong '/'
    Buffer.from([0xed, 0xa0, 0x80]), // a lone surrogate
    Buffer.from([0xe2, 0x82]), // truncated
  ]
  for (const bytes of bad) {
    const body = Buffer.concat([
      Buffer.from(`{"title":"A`),
      bytes,
      Buffer.from(`","request":{"method":"POST","url":"${url}","body_format":"json"}}`),
    ])
    const res = await app.inject({
      method: 'POST',
      url: '/v1/rules',
      headers: { ...ws.auth, 'content-type': 'application/json' },
      payload: body,
    })
    assertError(t, res, 400, /UTF-8/, `bytes ${bytes.toString('hex')}`)
  }
  t.same(await snapshot(database), before, 'nothing changed')
})

t.test('U+0000, which Postgres cannot store, is refused wherever it comes', async (t) => {
  const { app, database } = testApp
  const ws = await createWorkspace(app)
  const before = await snapshot(database)
  const record = { entity_type: 'lead', entity_id: 'L-1', fields: { lead: { note: 'a\u0000b' } } }
  const cases: [string, string, string, object | undefined][] = [
    ['a rule title', 'POST', '/v1/rules', ruleBody(url, { title: 'a\u0000b' })],
    ['an event field', 'POST', '/v1/events', { type: 'lead.created', record }],
    [
      'a key',
      'POST',
      '/v1/events',
      { type: 'lead.created', record: { ...record, fields: { 'a\u0000': 1 } } },
    ],
    ['a search', 'GET', '/v1/rules?q=%00', undefined],
    ['a filter', 'GET', '/v1/deliveries?entity_id=a%00b', undefined],
  ]
  for (const [what, method, path, payload] of cases) {
    const res = await app.inject({
      method: method as 'POST',
      url: path,
      headers: ws.auth,
      ...(payload ? { payload } : {}),
    })
    assertError(t, res, 400, /U\+0000/, what)
  }
  t.same(await snapshot(database), before, 'nothing changed')
})

t.test(
  'a lone surrogate, which Postgres cannot store either, is refused; a pair is kept',
  async (t) => {
    const { app, database } = testApp
    const ws = await createWorkspace(app)
    const rule = await app.inject({
      method: 'POST',
      url: '/v1/rules',
      headers: ws.auth,
      payload: ruleBody(url, { title: 'Smile \ud83d\ude00' }),
    })
    t.equal(rule.statusCode, 201, 'a surrogate pair (an emoji) is stored')
    t.equal(rule.json().title, 'Smile \ud83d\ude00', 'and read back as sent')
    const before = await snapshot(database)
    const lone = { entity_type: '\ud800', entity_id: 'L-1', fields: {} }
    const cases: [string, string, object][] = [
      ['a rule title', '/v1/rules', ruleBody(url, { title: 'a\udfffb' })],
      [
        'an event field',
        '/v1/events',
        {
          type: 'lead.created',
          record: { ...lone, entity_type: 'lead', fields: { note: 'x\ud800' } },
        },
      ],
      ['a mass post record', `/v1/rules/${rule.json().id}/mass-posts`, { records: [lone] }],
    ]
    for (const [what, path, payload] of cases) {
      // JSON.stringify writes a lone surrogate as its escape, as any JSON sender may.
      const res = await app.inject({ method: 'POST', url: path, headers: ws.auth, payload })
      assertError(t, res, 400, /lone UTF-16 surrogate/, what)
    }
    t.same(await snapshot(database), before, 'nothing changed')
  },
)

t.test('over a real socket: oversized, lying and slow requests', async (t) => {
  const { app, database } = testApp
  const ws = await createWorkspace(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const before = await snapshot(database)
  const head = (extra: string) =>
    `POST /v1/rules HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${ws.auth.authorization}\r\n` +
    `Content-Type: application/json\r\n${extra}\r\n`
  const big = JSON.stringify(ruleBody(url, { description: 'x'.repeat(limit * 4) }))

  const byLength = await rawHttp(port, [head(`Content-Length: ${10 * 1024 * 1024}\r\n`)])
  assertError(t, byLength, 413, /body|large|limit/i, 'Content-Length over the limit')

  const chunked = await rawHttp(port, [
    head('Transfer-Encoding: chunked\r\n'),
    ...Array.from({ length: 8 }, () => `800\r\n${'x'.repeat(0x800)}\r\n`),
    '0\r\n\r\n',
  ])
  assertError(t, chunked, 413, /body|large|limit/i, 'chunks adding up past the limit')

  const understated = await rawHttp(port, [
    head('Transfer-Encoding: chunked\r\n'),
    `10\r\n${big}\r\n0\r\n\r\n`,
  ])
  t.ok(
    understated.statusCode === 400 || understated.statusCode === 413,
    'a chunk longer than it says',
  )
  assertError(t, understated, understated.statusCode ?? 0, /./, 'a chunk longer than it says')

  const both = await rawHttp(port, [
    head('Content-Length: 10\r\nTransfer-Encoding: chunked\r\n'),
    `${Buffer.byteLength(big).toString(16)}\r\n${big}\r\n0\r\n\r\n`,
  ])
  assertError(t, both, 400, /./, 'Content-Length and chunked together (smuggling)')

  const overflow = await rawHttp(port, [
    head('Transfer-Encoding: chunked\r\n'),
    'ffffffffffffffffff\r\nx\r\n0\r\n\r\n',
  ])
  assertError(t, overflow, 400, /./, 'a chunk size that overflows')

  // Slow headers: a byte every 200 ms, never finishing the header block. The
  // timeout is 1 s; the bound is generous, yet below Node's default 30 s check.
  let started = Date.now()
  const slowHeaders = await rawHttp(
    port,
    [
      'POST /v1/rules HTTP/1.1\r\nHost: 127.0.0.1\r\n',
      ...Array.from({ length: 300 }, () => [pause(200), 'X'] as const).flat(),
    ],
    15_000,
  )
  t.comment(`slow headers: closed after ${Date.now() - started} ms`)
  t.ok(slowHeaders.closed, 'slow headers: the server closed the connection')
  if (slowHeaders.statusCode !== null) assertError(t, slowHeaders, 408, /./, 'slow headers')

  // Slow body: the headers promise 200 bytes, which come one every 200 ms.
  started = Date.now()
  const slowBody = await rawHttp(
    port,
    [
      head('Content-Length: 200\r\n'),
      ...Array.from({ length: 200 }, () => [pause(200), ' '] as const).flat(),
    ],
    15_000,
  )
  t.comment(`slow body: closed after ${Date.now() - started} ms`)
  t.ok(slowBody.closed, 'slow body: the server closed the connection')
  if (slowBody.statusCode !== null) assertError(t, slowBody, 408, /./, 'slow body')

  t.same(await snapshot(database), before, 'nothing changed')
})
