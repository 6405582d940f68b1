import t from 'tap'
import { build, createWorkspace, operator } from '../helpers/app.js'

t.test('every answer carries a request id; a caller’s plain id is kept', async (t) => {
  const { app } = await build(t)
  const generated = await app.inject({ url: '/healthz' })
  t.match(generated.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  const given = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'crm-trace-42' } })
  t.equal(given.headers['x-request-id'], 'crm-trace-42')
  const hostile = await app.inject({
    url: '/healthz',
    headers: { 'x-request-id': 'a\u0000b'.repeat(40) },
  })
  t.not(hostile.headers['x-request-id'], 'a\u0000b'.repeat(40))
})

t.test('client errors share one JSON shape', async (t) => {
  const { app } = await build(t, { bodyLimitBytes: 2048 })
  const shape = (body: unknown) =>
    t.same(Object.keys(body as object).sort(), ['code', 'error', 'message', 'statusCode'])

  const noRoute = await app.inject({ url: '/v1/nothing-here' })
  t.equal(noRoute.statusCode, 404)
  t.equal(noRoute.json().code, 'route_not_found')
  shape(noRoute.json())

  const badJson = await app.inject({
    method: 'POST',
    url: '/operator/workspaces',
    headers: { ...operator, 'content-type': 'application/json' },
    payload: '{"name": ',
  })
  t.equal(badJson.statusCode, 400)
  t.equal(badJson.json().code, 'invalid_json')
  shape(badJson.json())

  const proto = await app.inject({
    method: 'POST',
    url: '/operator/workspaces',
    headers: { ...operator, 'content-type': 'application/json' },
    payload: '{"name":"x","__proto__":{"admin":true}}',
  })
  t.equal(proto.statusCode, 400, 'prototype pollution is refused')
  shape(proto.json())

  const tooLarge = await app.inject({
    method: 'POST',
    url: '/operator/workspaces',
    headers: operator,
    payload: { name: 'x'.repeat(5000) },
  })
  t.equal(tooLarge.statusCode, 413)
  t.equal(tooLarge.json().code, 'payload_too_large')

  const wrongType = await app.inject({
    method: 'POST',
    url: '/operator/workspaces',
    headers: { ...operator, 'content-type': 'text/plain' },
    payload: 'name=x',
  })
  t.equal(wrongType.statusCode, 415)
  t.equal(wrongType.json().code, 'unsupported_media_type')
  shape(wrongType.json())
})

t.test('a 400 lists every problem as { path, code, message } beside the message', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)

  const body = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: {
      title: '',
      colour: 'red',
      event_types: 'lead.created',
      request: { method: 'POST', url: 'https://example.com/hook', body_format: 'json' },
    },
  })
  t.equal(body.statusCode, 400)
  const answer = body.json()
  t.equal(answer.code, 'validation_failed')
  t.same(
    [...answer.errors].sort((a: { path: string }, b: { path: string }) =>
      a.path.localeCompare(b.path),
    ),
    [
      {
        path: 'body/colour',
        code: 'additional_properties',
        message: 'unknown property (not allowed here)',
      },
      { path: 'body/event_types', code: 'type', message: 'must be array' },
      { path: 'body/title', code: 'min_length', message: 'must NOT have fewer than 1 characters' },
    ],
  )
  const first = answer.errors.find((e: { path: string }) => answer.message.startsWith(e.path))
  t.ok(first, 'the message names one of the listed problems')

  const query = await app.inject({
    url: '/v1/rules?limit=0&sort=sideways',
    headers: ws.auth,
  })
  t.equal(query.statusCode, 400)
  t.same(
    query
      .json()
      .errors.map((e: { path: string; code: string }) => [e.path, e.code])
      .sort(),
    [
      ['querystring/limit', 'minimum'],
      ['querystring/sort', 'enum'],
    ],
  )

  // Checks beyond the schema (templates, URLs) list each problem too, with code `invalid`.
  const checked = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: {
      title: 'Bad',
      event_types: [],
      request: {
        method: 'POST',
        url: 'http://10.1.2.3/hook',
        body_format: 'json',
        body_template: '{{ unclosed',
      },
    },
  })
  t.equal(checked.statusCode, 400)
  const problems = checked.json().errors as { path: string; code: string }[]
  t.ok(problems.length >= 2, checked.body)
  t.ok(problems.every((p) => p.code === 'invalid'))
  t.ok(problems.some((p) => p.path === 'body/request/url'))
  t.ok(problems.some((p) => p.path === 'body/request/body_template'))

  // Other errors keep the four fields.
  const missing = await app.inject({
    url: '/v1/rules/rul_0000000000000000000000000',
    headers: ws.auth,
  })
  t.same(Object.keys(missing.json()).sort(), ['code', 'error', 'message', 'statusCode'])
})

t.test('a body-less POST or DELETE labelled application/json is accepted', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const json = { ...ws.auth, 'content-type': 'application/json' }
  const created = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: {
      title: 'Leads',
      event_types: [],
      request: { method: 'POST', url: 'https://example.com/hook', body_format: 'json' },
    },
  })
  const id = created.json().id
  const disabled = await app.inject({
    method: 'POST',
    url: `/v1/rules/${id}/disable`,
    headers: json,
  })
  t.equal(disabled.statusCode, 200, disabled.body)
  const deleted = await app.inject({ method: 'DELETE', url: `/v1/rules/${id}`, headers: json })
  t.equal(deleted.statusCode, 204, deleted.body)
  const needsBody = await app.inject({ method: 'POST', url: '/v1/rules', headers: json })
  t.equal(needsBody.statusCode, 400, 'a route that needs a body still says so')
  t.equal(needsBody.json().code, 'validation_failed')
})

t.test('health and readiness', async (t) => {
  const { app } = await build(t)
  t.same((await app.inject({ url: '/healthz' })).json(), { status: 'ok' })
  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', database: true, pending_migrations: [] })
})

t.test('every /v1 operation needs a live key', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  await app.inject({
    method: 'DELETE',
    url: `/operator/workspaces/${ws.id}/api-keys/${ws.keyId}`,
    headers: operator,
  })
  await app.ready()
  const doc = app.swagger() as { paths: Record<string, Record<string, unknown>> }
  const operations = Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/v1/'))
    .flatMap(([path, methods]) => Object.keys(methods).map((method) => ({ method, path })))
  t.ok(operations.length > 0)
  for (const { method, path } of operations) {
    const url = path.replace(/\{[^}]+\}/g, 'xx_0000000000000000000000000')
    for (const headers of [
      {},
      ws.auth,
      { authorization: 'Bearer hl_zzzzzzzz_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz' },
    ]) {
      const res = await app.inject({ method: method.toUpperCase() as 'GET', url, headers })
      t.equal(res.statusCode, 401, `${method.toUpperCase()} ${path} without a live key`)
    }
  }
})
