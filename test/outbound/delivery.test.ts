import { Webhook } from 'standardwebhooks'
import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

interface DeliveryJson {
  attempt_history: { request: { headers: Record<string, string> }; response_body: string }[]
}

const lead = (fields: Record<string, unknown>, id = 'L-1') => ({
  entity_type: 'lead',
  entity_id: id,
  fields: { lead: { id, ...fields } },
})

t.test('an event becomes a signed delivery with history', async (t) => {
  const testApp = await build(t, { workerConcurrency: 10 })
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)

  const rule = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: {
      title: 'Qualified leads',
      event_types: ['lead.updated'],
      conditions: { all: [{ field: 'lead.status', op: 'equals', value: 'Qualified' }] },
      request: {
        method: 'POST',
        url: `${receiver.url}/hook/{{lead.id}}?src={{lead.source}}`,
        body_format: 'json',
        body_template: '{"name": "{{lead.name}}", "age": {{lead.age}}, "note": "{{lead.note}}"}',
        headers: [{ name: 'X-Campaign', value: 'fall-{{lead.source}}' }],
      },
      auth: { type: 'bearer', token: 'receiver-token-123' },
    },
  })
  t.equal(rule.statusCode, 201, rule.body)
  const ruleId = rule.json().id
  t.same(rule.json().auth, { type: 'bearer', secret_set: true }, 'the token is never echoed')

  const skipped = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: ws.auth,
    payload: { type: 'lead.updated', record: lead({ status: 'New' }) },
  })
  t.same(skipped.json().matched_rules, [], 'conditions filter')

  const sent = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: ws.auth,
    payload: {
      type: 'lead.updated',
      record: lead({
        status: 'Qualified',
        name: 'Ada "The" <Countess> & co\n',
        age: 36,
        note: 'ünïcode ✓',
        source: 'a b&c',
      }),
    },
  })
  t.equal(sent.statusCode, 202)
  const [deliveryId] = sent.json().deliveries
  t.same(sent.json().matched_rules, [ruleId])

  await receiver.waitFor(1)
  const got = receiver.received[0]!
  t.equal(got.method, 'POST')
  t.equal(got.url, '/hook/L-1?src=a%20b%26c', 'URL values are percent-encoded')
  t.same(JSON.parse(got.body), { name: 'Ada "The" <Countess> & co\n', age: 36, note: 'ünïcode ✓' })
  t.equal(got.headers.authorization, 'Bearer receiver-token-123')
  t.equal(got.headers['x-campaign'], 'fall-a b&c')
  t.equal(got.headers['webhook-id'], deliveryId, 'webhook-id is the delivery id')

  const secret = (await app.inject({ url: '/v1/settings/signing-secret', headers: ws.auth })).json()
    .secret
  const verified = new Webhook(secret).verify(got.body, {
    'webhook-id': got.headers['webhook-id'] as string,
    'webhook-timestamp': got.headers['webhook-timestamp'] as string,
    'webhook-signature': got.headers['webhook-signature'] as string,
  })
  t.ok(verified, 'the standardwebhooks verifier accepts the signature')
  const { createHmac } = await import('node:crypto')
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  t.equal(
    got.headers['x-hookline-signature'],
    `sha256=${createHmac('sha256', key).update(got.body).digest('hex')}`,
  )

  const delivery: DeliveryJson = await eventually(async () => {
    const res = await app.inject({ url: `/v1/deliveries/${deliveryId}`, headers: ws.auth })
    return res.json().status === 'succeeded' ? res.json() : undefined
  })
  t.match(delivery, {
    status: 'succeeded',
    status_label: 'Succeeded',
    attempts: 1,
    response_status: 200,
  })
  t.equal(delivery.attempt_history.length, 1)
  t.equal(delivery.attempt_history[0]?.request.headers.authorization, '[redacted]')
  t.equal(delivery.attempt_history[0]?.response_body, '{"ok":true}')

  const list = await app.inject({
    url: `/v1/deliveries?rule_id=${ruleId}&status=succeeded`,
    headers: ws.auth,
  })
  t.same(
    list.json().data.map((d: { id: string }) => d.id),
    [deliveryId],
  )

  const event = await app.inject({ url: `/v1/events/${sent.json().id}`, headers: ws.auth })
  t.equal(event.json().deliveries[0].id, deliveryId)
})

t.test('a repeated idempotency key answers the first answer and sends once', async (t) => {
  const testApp = await build(t, { workerConcurrency: 10 })
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: {
      title: 'All leads',
      event_types: ['lead.created'],
      request: { method: 'POST', url: `${receiver.url}/x`, body_format: 'json' },
    },
  })
  const send = () =>
    app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: ws.auth,
      payload: { type: 'lead.created', record: lead({}), idempotency_key: 'k-1' },
    })
  const [a, b] = await Promise.all([send(), send()])
  const first = a.json().duplicate ? b.json() : a.json()
  const second = a.json().duplicate ? a.json() : b.json()
  t.equal(first.duplicate, false)
  t.equal(second.duplicate, true)
  t.equal(second.id, first.id)
  t.same(second.deliveries, first.deliveries)
  await receiver.waitFor(1)
  await new Promise((r) => setTimeout(r, 300))
  t.equal(receiver.received.length, 1, 'sent once')
})

t.test('workspace switched off: events recorded, nothing sent', async (t) => {
  const testApp = await build(t, { workerConcurrency: 10 })
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: {
      title: 'r',
      event_types: ['lead.created'],
      request: { method: 'POST', url: `${receiver.url}/x`, body_format: 'json' },
    },
  })
  await app.inject({
    method: 'PATCH',
    url: '/v1/settings',
    headers: ws.auth,
    payload: { webhooks_enabled: false },
  })
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: ws.auth,
    payload: { type: 'lead.created', record: lead({}) },
  })
  t.equal(res.statusCode, 202)
  t.equal(res.json().webhooks_enabled, false)
  t.equal(res.json().matched_rules.length, 1)
  t.same(res.json().deliveries, [])
  const stored = await app.inject({ url: `/v1/events/${res.json().id}`, headers: ws.auth })
  t.equal(stored.statusCode, 200, 'the event is recorded')
  t.equal(receiver.received.length, 0)
})

t.test('outbound requests to private addresses are refused unless allow-listed', async (t) => {
  const testApp = await build(t, { workerConcurrency: 10, outboundAllowList: '' })
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t)
  const ws = await createWorkspace(app)
  const port = new URL(receiver.url).port

  // A literal private address is refused when the rule is saved...
  const literal = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: {
      title: 'loopback',
      event_types: ['lead.created'],
      request: { method: 'POST', url: `${receiver.url}/x`, body_format: 'json' },
    },
  })
  t.equal(literal.statusCode, 400)
  t.match(literal.json().message, /^body\/request\/url: 127\.0\.0\.1 is a .* address/)

  // ...and a host that only a record names is refused when connecting.
  const templated = await app.inject({
    method: 'POST',
    url: '/v1/rules',
    headers: ws.auth,
    payload: {
      title: 'templated host',
      event_types: ['lead.created'],
      request: { method: 'POST', url: `http://{{lead.host}}:${port}/x`, body_format: 'json' },
      execution: { max_attempts: 1 },
    },
  })
  t.equal(templated.statusCode, 201, templated.body)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: ws.auth,
    payload: { type: 'lead.created', record: lead({ host: '127.0.0.1' }) },
  })
  const [id] = res.json().deliveries
  const delivery = await eventually(async () => {
    const d = (await app.inject({ url: `/v1/deliveries/${id}`, headers: ws.auth })).json()
    return d.status === 'failed' ? d : undefined
  })
  t.match(delivery.last_error, /not allowed/)
  t.equal(receiver.connections(), 0, 'the loopback listener never saw a connection')
})
