import t, { type Test } from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  type DeliveryJson,
  lead,
  pause,
  settled,
  signingSecret,
  verifyStandardWebhook,
} from '../helpers/outbound.js'
import { startReceiver } from '../helpers/receiver.js'

// One app and database for the file; each test has its own workspace, receivers and workers.
const testApp = await build(t)

const answer = (_req: unknown, res: import('node:http').ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end('{"data":{"id":"D-77","score":9}}')
}

async function setup(t: Test) {
  const receiver = await startReceiver(t, answer)
  const ws = await createWorkspace(testApp.app)
  const rule = await createRule(testApp.app, ws, {
    title: 'Dialer',
    event_types: ['lead.updated'],
    request: {
      method: 'POST',
      url: `${receiver.url}/leads/{{lead.id}}`,
      body_format: 'json',
      body_template: '{"id": "{{lead.id}}", "name": "{{lead.name}}"}',
    },
    auth: { type: 'bearer', token: 'dialer-token-1' },
    response: { format: 'json', mapping: [{ path: 'data.id', field: 'lead.dialer_id' }] },
  })
  return { ...testApp, receiver, ws, rule }
}

const record = lead({ name: 'Ada <"x">' }, 'L-5')

t.test('preview renders and signs the request and sends nothing', async (t) => {
  const { app, receiver, ws, rule } = await setup(t)
  const res = await app.inject({
    method: 'POST',
    url: `/v1/rules/${rule.id}/preview`,
    headers: ws.auth,
    payload: { record },
  })
  t.equal(res.statusCode, 200, res.body)
  const { request } = res.json()
  t.equal(request.method, 'POST')
  t.equal(request.url, `${receiver.url}/leads/L-5`)
  t.same(JSON.parse(request.body), { id: 'L-5', name: 'Ada <"x">' })
  t.equal(request.headers.authorization, '[redacted]', 'credentials are masked')
  t.equal(request.headers['content-type'], 'application/json')
  t.ok(
    verifyStandardWebhook(await signingSecret(app, ws), {
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: request.body,
    }),
    'the preview carries a valid signature',
  )
  await pause(300)
  t.equal(receiver.received.length, 0, 'nothing was sent')
  t.equal(receiver.connections(), 0)
  const history = await app.inject({ url: `/v1/deliveries?rule_id=${rule.id}`, headers: ws.auth })
  t.same(history.json().data, [], 'nothing recorded')

  const missing = await app.inject({
    method: 'POST',
    url: `/v1/rules/${rule.id}/preview`,
    headers: ws.auth,
    payload: {},
  })
  t.equal(missing.statusCode, 400)
  t.match(missing.json().message, /body\/record: required/)
  t.match(missing.json().message, /lead\.updated\) has a sample/, 'and says why')
})

t.test("without a record, preview and test use the event type's sample", async (t) => {
  const { app, receiver, ws, rule } = await setup(t)
  const sample = { lead: { id: 'L-1001', name: 'Sample Lead' } }
  const put = await app.inject({
    method: 'PUT',
    url: '/v1/event-types/lead.updated',
    headers: ws.auth,
    payload: { description: 'A lead changed.', sample },
  })
  t.ok(put.statusCode === 200 || put.statusCode === 201, put.body)

  const preview = await app.inject({
    method: 'POST',
    url: `/v1/rules/${rule.id}/preview`,
    headers: ws.auth,
    payload: {},
  })
  t.equal(preview.statusCode, 200, preview.body)
  t.equal(preview.json().request.url, `${receiver.url}/leads/L-1001`)
  t.same(JSON.parse(preview.json().request.body), { id: 'L-1001', name: 'Sample Lead' })
  t.equal(receiver.received.length, 0, 'a preview sends nothing')

  const tested = await app.inject({
    method: 'POST',
    url: `/v1/rules/${rule.id}/test`,
    headers: ws.auth,
    payload: {},
  })
  t.equal(tested.statusCode, 200, tested.body)
  t.equal(receiver.received.length, 1, 'a test sends once')
  t.equal(receiver.received[0]?.url, '/leads/L-1001')

  const manual = await createRule(app, ws, {
    title: 'Manual only',
    event_types: [],
    request: { method: 'POST', url: `${receiver.url}/manual`, body_format: 'json' },
  })
  const none = await app.inject({
    method: 'POST',
    url: `/v1/rules/${manual.id}/preview`,
    headers: ws.auth,
    payload: {},
  })
  t.equal(none.statusCode, 400)
  t.match(none.json(), {
    code: 'validation_failed',
    message: /body\/record: required, since the rule has no event types/,
  })
})

t.test('test sends once, inline, answers request and response, keeps no history', async (t) => {
  const { app, receiver, ws, rule } = await setup(t)
  const res = await app.inject({
    method: 'POST',
    url: `/v1/rules/${rule.id}/test`,
    headers: ws.auth,
    payload: { record },
  })
  t.equal(res.statusCode, 200, res.body)
  t.equal(receiver.received.length, 1, 'sent once, before the answer')
  const body = res.json()
  t.equal(body.request.headers.authorization, '[redacted]')
  t.equal(receiver.received[0]?.headers.authorization, 'Bearer dialer-token-1')
  t.match(body.response, { status: 200, body: '{"data":{"id":"D-77","score":9}}', error: null })
  t.equal(body.response.headers['content-type'], 'application/json')
  t.same(body.response_mapped, { 'lead.dialer_id': 'D-77' })
  await pause(300)
  t.equal(receiver.received.length, 1, 'sent once only')
  const history = await app.inject({ url: `/v1/deliveries?rule_id=${rule.id}`, headers: ws.auth })
  t.same(history.json().data, [], 'a test is not kept in history')
})

t.test('execute inline answers with the delivery after its attempt', async (t) => {
  const { app, receiver, ws, rule } = await setup(t)
  const res = await app.inject({
    method: 'POST',
    url: `/v1/rules/${rule.id}/execute`,
    headers: ws.auth,
    payload: { record, mode: 'inline' },
  })
  t.equal(res.statusCode, 200, res.body)
  t.equal(receiver.received.length, 1, 'sent before the answer')
  const { mode, delivery } = res.json<{ mode: string; delivery: DeliveryJson }>()
  t.equal(mode, 'inline')
  t.match(delivery, {
    rule_id: rule.id,
    kind: 'rule',
    entity_type: 'lead',
    entity_id: 'L-5',
    status: 'succeeded',
    attempts: 1,
    response_status: 200,
    response_mapped: { 'lead.dialer_id': 'D-77' },
  })
  t.equal(delivery.attempt_history.length, 1)
  t.equal(delivery.attempt_history[0]?.response_body, '{"data":{"id":"D-77","score":9}}')
  t.equal(receiver.received[0]?.headers['webhook-id'], delivery.id)
  const history = await app.inject({ url: `/v1/deliveries?rule_id=${rule.id}`, headers: ws.auth })
  t.same(
    history.json().data.map((d: DeliveryJson) => d.id),
    [delivery.id],
    'kept in history',
  )
})

t.test('execute inline on a failing receiver answers the failed first attempt', async (t) => {
  const { app, receiver, ws, rule } = await setup(t)
  receiver.respondWith((_req, res) => res.writeHead(500).end('down'))
  const res = await app.inject({
    method: 'POST',
    url: `/v1/rules/${rule.id}/execute`,
    headers: ws.auth,
    payload: { record, mode: 'inline' },
  })
  t.equal(res.statusCode, 200)
  const { delivery } = res.json<{ delivery: DeliveryJson }>()
  t.match(delivery, { status: 'queued', attempts: 1, response_status: 500 })
  t.ok(delivery.next_attempt_at, 'the retry is scheduled')
  t.match(delivery.last_error, /500/)
})

t.test('execute in the background answers 202 at once, then the delivery succeeds', async (t) => {
  const fixture = await setup(t)
  const { app, receiver, ws, rule } = fixture
  const res = await app.inject({
    method: 'POST',
    url: `/v1/rules/${rule.id}/execute`,
    headers: ws.auth,
    payload: { record, mode: 'background' },
  })
  t.equal(res.statusCode, 202, res.body)
  const { mode, delivery } = res.json<{ mode: string; delivery: DeliveryJson }>()
  t.equal(mode, 'background')
  t.equal(delivery.status, 'queued')
  t.equal(delivery.status_label, 'In Queue')
  t.equal(receiver.received.length, 0, 'not sent yet: no worker runs')

  await startWorkers(t, fixture)
  const done = await settled(app, ws, delivery.id)
  t.match(done, { status: 'succeeded', attempts: 1, response_mapped: { 'lead.dialer_id': 'D-77' } })
  t.equal(receiver.received.length, 1)
})
