import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { createHandler, listen, send } from '../helpers/inbound.js'

t.test('create, read, update, list, rotate and delete a handler', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const created = await app.inject({
    method: 'POST',
    url: '/v1/handlers',
    headers: ws.auth,
    payload: {
      title: 'Website form',
      created_by: { id: 'u-1', name: 'Ada' },
      parameters: [{ name: 'email', type: 'email', required: true }],
      mapping: [{ source: 'email', target: 'lead.email' }],
      verification: { type: 'secret_header', header: 'X-Token', secret: 'do-not-echo' },
    },
  })
  t.equal(created.statusCode, 201, created.body)
  const handler = created.json()
  t.notMatch(created.body, /do-not-echo/, 'the secret is never echoed')
  t.match(handler, {
    id: /^hdl_/,
    title: 'Website form',
    description: '',
    active: true,
    methods: ['POST'],
    body_format: 'auto',
    body_limit_bytes: 1048576,
    entity_type: null,
    conditions: null,
    protection: { period_seconds: 0, parameters: [] },
    verification: { type: 'secret_header', header: 'X-Token', secret_set: true },
    response: { status: 200, content_type: 'application/json', headers: [], body_template: null },
    actions: [],
    created_by: { id: 'u-1', name: 'Ada' },
    token_rotated_at: null,
  })
  const token = /\/in\/(hli_[\w-]{32})$/.exec(handler.endpoint_url)?.[1]
  t.ok(token, 'the endpoint URL carries a 192-bit token')

  const got = await app.inject({ url: `/v1/handlers/${handler.id}`, headers: ws.auth })
  t.same(got.json(), handler, 'the endpoint URL can be read again later')

  const patched = await app.inject({
    method: 'PATCH',
    url: `/v1/handlers/${handler.id}`,
    headers: ws.auth,
    payload: {
      description: 'From the site',
      protection: { period_seconds: 30 },
      verification: { type: 'none' },
    },
  })
  t.equal(patched.statusCode, 200, patched.body)
  t.match(patched.json(), {
    description: 'From the site',
    protection: { period_seconds: 30, parameters: [] },
    verification: { type: 'none', secret_set: false },
    endpoint_url: handler.endpoint_url,
  })

  const rotated = (
    await app.inject({
      method: 'POST',
      url: `/v1/handlers/${handler.id}/rotate-token`,
      headers: ws.auth,
    })
  ).json()
  t.not(rotated.endpoint_url, handler.endpoint_url)

  const second = await createHandler(app, ws.auth, { title: 'Second' })
  const list = await app.inject({ url: '/v1/handlers?limit=1', headers: ws.auth })
  t.equal(list.statusCode, 200, list.body)
  t.same(
    list.json().data.map((h: { id: string }) => h.id),
    [second.id],
    'newest first',
  )
  t.match(list.json().data[0].calls, { total: 0, accepted: 0 })
  const next = await app.inject({
    url: `/v1/handlers?limit=1&cursor=${list.json().next_cursor}`,
    headers: ws.auth,
  })
  t.same(
    next.json().data.map((h: { id: string }) => h.id),
    [handler.id],
  )
  t.equal(next.json().next_cursor, null)
  const searched = await app.inject({ url: '/v1/handlers?q=site', headers: ws.auth })
  t.same(
    searched.json().data.map((h: { id: string }) => h.id),
    [handler.id],
    'text search in the description',
  )

  const deleted = await app.inject({
    method: 'DELETE',
    url: `/v1/handlers/${handler.id}`,
    headers: ws.auth,
  })
  t.equal(deleted.statusCode, 204)
  t.equal(
    (await app.inject({ url: `/v1/handlers/${handler.id}`, headers: ws.auth })).statusCode,
    404,
  )
})

t.test(
  'saving checks mapping, catalog, conditions, templates, actions and the schema',
  async (t) => {
    const { app } = await build(t)
    const ws = await createWorkspace(app)
    const refuse = async (payload: Record<string, unknown>, message: RegExp) => {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/handlers',
        headers: ws.auth,
        payload: { title: 'x', ...payload },
      })
      t.equal(res.statusCode, 400, JSON.stringify(payload))
      t.match(res.json().message, message)
    }
    await refuse(
      {
        mapping: [
          { source: 'a', target: 'lead' },
          { source: 'b', target: 'lead.email' },
        ],
      },
      /body\/mapping: lead and lead\.email overlap/,
    )
    await refuse(
      { mapping: [{ source: '__proto__.x', target: 'lead.email' }] },
      /body\/mapping\/0\/source/,
    )
    await refuse(
      { conditions: { all: [{ field: 'email', op: 'in', value: 'x' }] } },
      /'in' needs an array/,
    )
    await refuse(
      { response: { body_template: '{"a": "{{ email }}"}' } },
      /\{\{ email \}\} reads nothing; use params/,
    )
    await refuse({ response: { body_template: '{% if %}' } }, /body\/response\/body_template/)
    await refuse(
      { response: { headers: [{ name: 'Content-Length', value: '1' }] } },
      /set by Hookline/,
    )
    await refuse({ response: { status: 500 } }, /body\/response\/status/)
    await refuse(
      { actions: [{ type: 'run_rule', rule_id: 'rul_0000000000000000000000000' }] },
      /no rule rul_0+ in this workspace/,
    )
    await refuse(
      {
        verification: {
          type: 'hmac',
          header: 'X-Sig',
          algorithm: 'md5',
          encoding: 'hex',
          secret: 's',
        },
      },
      /verification/,
    )
    await refuse(
      {
        parameters: [
          { name: 'a', type: 'string', required: false },
          { name: 'a', type: 'number', required: true },
        ],
      },
      /a is declared twice/,
    )
    await refuse({ methods: [] }, /body\/methods/)
    await refuse({ body_limit_bytes: 64 * 1024 * 1024 }, /body\/body_limit_bytes/)
    await refuse({ unknown: true }, /unknown property/)

    const fields = await app.inject({
      method: 'PUT',
      url: '/v1/fields',
      headers: ws.auth,
      payload: { data: [{ key: 'lead.email', label: 'Email', type: 'email', entity: 'lead' }] },
    })
    t.equal(fields.statusCode, 200, fields.body)
    await refuse(
      { mapping: [{ source: 'phone', target: 'lead.phone' }] },
      /unknown field "lead\.phone"/,
    )
    const known = await app.inject({
      method: 'POST',
      url: '/v1/handlers',
      headers: ws.auth,
      payload: { title: 'ok', mapping: [{ source: 'email', target: 'lead.email' }] },
    })
    t.equal(known.statusCode, 201, 'a catalog field is accepted')
  },
)

t.test('a sample call becomes parameters with nested paths', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const sample = async (payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: '/v1/handlers/sample-parameters', headers: ws.auth, payload })
  const fromJson = await sample({
    format: 'json',
    sample: {
      customer: { email: 'ada@example.com', age: 36, vip: true },
      items: [{ sku: 'A-1' }],
      at: '2026-11-24T09:30:00Z',
    },
  })
  t.equal(fromJson.statusCode, 200, fromJson.body)
  t.same(fromJson.json().parameters, [
    { name: 'customer.email', type: 'email', required: false },
    { name: 'customer.age', type: 'number', required: false },
    { name: 'customer.vip', type: 'boolean', required: false },
    { name: 'items[0].sku', type: 'string', required: false },
    { name: 'at', type: 'date', required: false },
  ])
  const fromForm = await sample({
    format: 'form',
    sample: 'email=a%40b.example&lead[phone]=%2B1+555+010+9999',
  })
  t.same(fromForm.json().parameters, [
    { name: 'email', type: 'email', required: false },
    { name: 'lead.phone', type: 'phone', required: false },
  ])
  const fromText = await sample({ format: 'json', sample: '{"a": {"b": 1}}' })
  t.same(fromText.json().parameters, [{ name: 'a.b', type: 'number', required: false }])
  const broken = await sample({ format: 'json', sample: '{"a": ' })
  t.equal(broken.statusCode, 400)
  t.match(broken.json().message, /^body\/sample: JSON body: /)
})

t.test('another workspace’s handlers and calls answer 404', async (t) => {
  const { app } = await build(t)
  const mine = await createWorkspace(app, 'Mine')
  const theirs = await createWorkspace(app, 'Theirs')
  const base = await listen(t, app)
  const handler = await createHandler(app, theirs.auth, { title: 'Theirs' })
  const call = await send(`${base}${handler.path}`, {
    headers: { 'content-type': 'application/json' },
    body: '{}',
  })
  const callId = call.headers['x-hookline-call-id']
  t.equal(call.status, 200)
  const probes: [string, string][] = [
    ['GET', `/v1/handlers/${handler.id}`],
    ['PATCH', `/v1/handlers/${handler.id}`],
    ['DELETE', `/v1/handlers/${handler.id}`],
    ['POST', `/v1/handlers/${handler.id}/disable`],
    ['POST', `/v1/handlers/${handler.id}/rotate-token`],
    ['GET', `/v1/handlers/${handler.id}/calls`],
    ['GET', `/v1/calls/${callId}`],
  ]
  for (const [method, url] of probes) {
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: mine.auth,
      ...(method === 'PATCH' ? { payload: { title: 'hijack' } } : {}),
    })
    t.equal(res.statusCode, 404, `${method} ${url}`)
    t.equal(res.json().code, 'not_found')
  }
  t.same((await app.inject({ url: '/v1/handlers', headers: mine.auth })).json().data, [])
  t.equal((await app.inject({ url: `/v1/calls/${callId}`, headers: theirs.auth })).statusCode, 200)
  t.equal(
    (await app.inject({ url: `/v1/handlers/${handler.id}`, headers: theirs.auth })).json().title,
    'Theirs',
  )
})

t.test('a parameter left without `required` is optional', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const handler = await createHandler(app, ws.auth, {
    title: 'Optional note',
    parameters: [
      { name: 'email', type: 'email', required: true },
      { name: 'note', type: 'string' },
    ],
    mapping: [
      { source: 'email', target: 'lead.email' },
      { source: 'note', target: 'lead.note' },
    ],
  })
  const got = await app.inject({ url: `/v1/handlers/${handler.id}`, headers: ws.auth })
  t.same(got.json().parameters, [
    { name: 'email', type: 'email', required: true },
    { name: 'note', type: 'string', required: false },
  ])
  const base = await listen(t, app)
  const path = new URL(handler.endpoint_url).pathname
  const call = await send(`${base}${path}`, {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'ada@example.com' }),
  })
  t.equal(call.status, 200, 'a call without the optional one is accepted')
  const calls = await app.inject({ url: `/v1/handlers/${handler.id}/calls`, headers: ws.auth })
  t.equal(calls.json().data[0].outcome, 'accepted')
})
