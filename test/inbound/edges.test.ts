import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'
import { callOf, createHandler, listen, send } from '../helpers/inbound.js'

const json = { 'content-type': 'application/json' }
const body = JSON.stringify({ email: 'ada@example.com' })
const common = {
  parameters: [{ name: 'email', type: 'email', required: true }],
  mapping: [{ source: 'email', target: 'lead.email' }],
}

t.test('changed and changed_from_to are refused on a handler, naming the test', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const created = await app.inject({
    method: 'POST',
    url: '/v1/handlers',
    headers: ws.auth,
    payload: {
      ...common,
      title: 'Changed',
      conditions: {
        all: [
          { field: 'email', op: 'is_not_empty' },
          { field: 'email', op: 'changed' },
        ],
      },
    },
  })
  t.equal(created.statusCode, 400, created.body)
  t.equal(created.json().code, 'validation_failed')
  t.match(created.json().message, /body\/conditions\.all\[1\]\.op: 'changed'.*previous/)

  const handler = await createHandler(app, ws.auth, { ...common, title: 'Plain' })
  const patched = await app.inject({
    method: 'PATCH',
    url: `/v1/handlers/${handler.id}`,
    headers: ws.auth,
    payload: {
      conditions: {
        any: [{ all: [{ field: 'status', op: 'changed_from_to', from: 'new', to: 'won' }] }],
      },
    },
  })
  t.equal(patched.statusCode, 400, patched.body)
  t.match(patched.json().message, /body\/conditions\.any\[0\]\.all\[0\]\.op: 'changed_from_to'/)
})

t.test(
  'other methods on /in/<token>: 405 with Allow, recorded, the token never echoed',
  async (t) => {
    const { app } = await build(t)
    const ws = await createWorkspace(app)
    const base = await listen(t, app)
    const handler = await createHandler(app, ws.auth, { ...common, title: 'Form' })
    const token = handler.path.slice('/in/'.length)
    const url = `${base}${handler.path}`

    for (const method of ['PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const) {
      const sent = await send(url, {
        method,
        headers: json,
        ...(method === 'HEAD' || method === 'OPTIONS' ? {} : { body }),
      })
      t.equal(sent.status, 405, `${method}: ${sent.text}`)
      t.equal(sent.headers.allow, 'POST', `${method} names the methods allowed`)
      t.notMatch(sent.text, token, `${method}: the token is not echoed`)
      if (method !== 'HEAD') t.equal(sent.json().code, 'method_not_allowed')
      const call = await callOf(app, ws.auth, sent)
      t.match(call, { method, outcome: 'invalid', response_status: 405, reason: /not accepted/ })
    }

    // An unknown token: the same 404 for every method, and nothing of the URL in it.
    const unknown = `${base}/in/hli_${'x'.repeat(32)}`
    for (const method of ['PUT', 'PATCH', 'DELETE', 'POST'] as const) {
      const sent = await send(unknown, { method, headers: json, body })
      t.equal(sent.status, 404, `${method}: ${sent.text}`)
      t.notMatch(sent.text, /hli_x/, `${method}: the token is not echoed`)
    }
    const odd = await send(`${base}/in/hli_${'y'.repeat(32)}`, { method: 'PROPFIND' })
    t.notMatch(odd.text, /hli_y/, 'not even for a method no route knows')
  },
)

t.test('protocol courtesies: empty PATCH, Retry-After, WWW-Authenticate', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const base = await listen(t, app)
  const handler = await createHandler(app, ws.auth, {
    ...common,
    title: 'Basic',
    verification: { type: 'basic', username: 'crm', password: 'pa55word' },
  })

  const empty = await app.inject({
    method: 'PATCH',
    url: `/v1/handlers/${handler.id}`,
    headers: ws.auth,
    payload: {},
  })
  t.equal(empty.statusCode, 400, empty.body)
  t.equal(empty.json().code, 'validation_failed')
  t.match(empty.json().message, /body: .*(at least|fewer than) 1/)
  const both = await createHandler(app, ws.auth, {
    ...common,
    title: 'Both',
    methods: ['GET', 'POST'],
  })
  const described = await app.inject({
    method: 'PATCH',
    url: `/v1/handlers/${both.id}`,
    headers: ws.auth,
    payload: { description: 'only this' },
  })
  t.equal(described.statusCode, 200, described.body)
  t.same(described.json().methods, ['GET', 'POST'], 'what is not sent stays as it was')

  const url = `${base}${handler.path}`
  const wrong = await send(url, {
    headers: { ...json, authorization: `Basic ${Buffer.from('crm:nope').toString('base64')}` },
    body,
  })
  t.equal(wrong.status, 401)
  t.equal(wrong.headers['www-authenticate'], 'Basic realm="hookline", charset="UTF-8"')
  const none = await send(url, { headers: json, body })
  t.equal(none.status, 401)
  t.equal(none.headers['www-authenticate'], 'Basic realm="hookline", charset="UTF-8"')

  const header = await createHandler(app, ws.auth, {
    ...common,
    title: 'Header',
    verification: { type: 'secret_header', header: 'X-Token', secret: 's3cret' },
  })
  const notBasic = await send(`${base}${header.path}`, { headers: json, body })
  t.equal(notBasic.status, 401)
  t.notOk(notBasic.headers['www-authenticate'], 'only Basic asks for credentials')

  const off = await app.inject({
    method: 'POST',
    url: `/v1/handlers/${handler.id}/disable`,
    headers: ws.auth,
  })
  t.equal(off.statusCode, 200, off.body)
  const inactive = await send(url, { headers: json, body })
  t.equal(inactive.status, 503)
  t.equal(inactive.json().code, 'handler_inactive')
  t.match(inactive.headers['retry-after'], /^\d+$/, 'the sender is told when to come back')
  t.equal((await callOf(app, ws.auth, inactive)).outcome, 'inactive')
})
