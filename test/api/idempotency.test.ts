import t from 'tap'
import { build, createWorkspace, operator } from '../helpers/app.js'

const rule = (title: string) => ({
  title,
  event_types: [],
  request: { method: 'POST', url: 'https://example.com/hook', body_format: 'json' },
})

t.test(
  'Idempotency-Key on a create: same request, first answer; another request, 409',
  async (t) => {
    const { app } = await build(t)
    const ws = await createWorkspace(app)
    const other = await createWorkspace(app, 'Other')
    const post = (auth: Record<string, string>, key: string, body: object) =>
      app.inject({
        method: 'POST',
        url: '/v1/rules',
        headers: { ...auth, 'idempotency-key': key },
        payload: body,
      })

    const first = await post(ws.auth, 'create-1', rule('Leads'))
    t.equal(first.statusCode, 201)
    // Key order does not make another request.
    const again = await post(ws.auth, 'create-1', { ...rule('Leads'), title: 'Leads' })
    t.equal(again.statusCode, 201)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.equal(again.json().id, first.json().id, 'the first answer, not a second rule')
    const list = await app.inject({ url: '/v1/rules', headers: ws.auth })
    t.equal(list.json().data.length, 1)

    const different = await post(ws.auth, 'create-1', rule('Other title'))
    t.equal(different.statusCode, 409)
    t.equal(different.json().code, 'conflict')
    t.match(different.json().message, /Idempotency-Key create-1 was used for a different request/)

    const elsewhere = await post(other.auth, 'create-1', rule('Leads'))
    t.equal(elsewhere.statusCode, 201, 'keys are per workspace')
    t.not(elsewhere.json().id, first.json().id)

    const bad = await post(ws.auth, 'x'.repeat(201), rule('Leads'))
    t.equal(bad.statusCode, 400)
    t.match(bad.json().message, /^headers\/idempotency-key: /)

    // A refused request keeps no key: fixed, the same key creates.
    const invalid = await post(ws.auth, 'create-2', { title: '' })
    t.equal(invalid.statusCode, 400)
    const fixed = await post(ws.auth, 'create-2', rule('Fixed'))
    t.equal(fixed.statusCode, 201)

    const workspace = () =>
      app.inject({
        method: 'POST',
        url: '/operator/workspaces',
        headers: { ...operator, 'idempotency-key': 'ws-1' },
        payload: { name: 'Keyed' },
      })
    const created = await workspace()
    const replayed = await workspace()
    t.equal(created.statusCode, 201)
    t.equal(replayed.statusCode, 201)
    t.equal(replayed.json().id, created.json().id, 'the operator API takes keys too')
  },
)

t.test('POST /v1/events takes the header as its idempotency_key', async (t) => {
  const { app } = await build(t)
  const ws = await createWorkspace(app)
  const event = {
    type: 'lead.created',
    record: { entity_type: 'lead', entity_id: 'L-1', fields: { lead: { name: 'Ada' } } },
  }
  const send = (headers: Record<string, string>, body: object = event) =>
    app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { ...ws.auth, ...headers },
      payload: body,
    })
  const first = await send({ 'idempotency-key': 'evt-1' })
  t.equal(first.statusCode, 202)
  const again = await send({ 'idempotency-key': 'evt-1' })
  t.equal(again.json().id, first.json().id)
  t.equal(again.json().duplicate, true)
  const sameInBody = await send({}, { ...event, idempotency_key: 'evt-1' })
  t.equal(sameInBody.json().duplicate, true, 'the body field is the same key')
  const differs = await send({ 'idempotency-key': 'evt-1' }, { ...event, idempotency_key: 'evt-2' })
  t.equal(differs.statusCode, 400)
  t.match(differs.json().message, /^headers\/idempotency-key: differs/)
})
