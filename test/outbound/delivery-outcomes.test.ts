import t from 'tap'
import { build, createWorkspace, startWorkers } from '../helpers/app.js'
import {
  createRule,
  type DeliveryJson,
  lead,
  type Notice,
  postEvent,
  ruleBody,
  setCallback,
  settled,
  signingSecret,
  verifyStandardWebhook,
} from '../helpers/outbound.js'
import { eventually, startReceiver } from '../helpers/receiver.js'

// One app and database for the file; each test has its own workspace, receivers and workers.
const testApp = await build(t, { ruleAutoDisableHours: 1 })

const unavailable = (res: import('node:http').ServerResponse) =>
  res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain' }).end('busy')

t.test(
  'a 503 with Retry-After is retried, then succeeds; history keeps both attempts',
  async (t) => {
    const { app } = testApp
    await startWorkers(t, testApp)
    let calls = 0
    const receiver = await startReceiver(t, (_req, res) => {
      if (++calls === 1) return unavailable(res)
      res.writeHead(200).end('ok')
    })
    const ws = await createWorkspace(app)
    await createRule(app, ws, ruleBody(`${receiver.url}/x`))
    const event = await postEvent(app, ws, 'lead.created', lead({}))
    const delivery = await settled(app, ws, event.deliveries[0] as string)

    t.match(delivery, { status: 'succeeded', attempts: 2, response_status: 200, last_error: null })
    t.equal(delivery.attempt_history.length, 2)
    t.match(delivery.attempt_history[0], {
      attempt: 1,
      response_status: 503,
      response_body: 'busy',
      error: /503/,
    })
    t.equal(delivery.attempt_history[0]?.response_headers?.['retry-after'], '1')
    t.match(delivery.attempt_history[1], { attempt: 2, response_status: 200, error: null })
    t.equal(receiver.received.length, 2)
    t.equal(
      receiver.received[0]?.headers['webhook-id'],
      receiver.received[1]?.headers['webhook-id'],
      'a retry keeps the webhook-id',
    )
  },
)

t.test(
  'a final failure with notify_on_failure pushes a signed delivery.failed notice',
  async (t) => {
    const { app } = testApp
    await startWorkers(t, testApp)
    const receiver = await startReceiver(t, (_req, res) => unavailable(res))
    const crm = await startReceiver(t)
    const ws = await createWorkspace(app)
    await setCallback(app, ws, `${crm.url}/notices`)
    const rule = await createRule(
      app,
      ws,
      ruleBody(`${receiver.url}/x`, {
        title: 'Flaky',
        execution: { max_attempts: 2 },
        notify_on_failure: true,
      }),
    )
    const event = await postEvent(app, ws, 'lead.created', lead({}, 'L-7'))
    const deliveryId = event.deliveries[0] as string
    const delivery = await settled(app, ws, deliveryId)
    t.match(delivery, { status: 'failed', attempts: 2, max_attempts: 2, response_status: 503 })
    t.equal(delivery.attempt_history.length, 2)
    t.equal(receiver.received.length, 2, 'no attempt past max_attempts')

    await crm.waitFor(1)
    const got = crm.received[0]!
    t.equal(got.url, '/notices')
    const secret = await signingSecret(app, ws)
    t.ok(verifyStandardWebhook(secret, got), 'the notice verifies with standardwebhooks')
    const notice = JSON.parse(got.body) as Notice
    t.equal(notice.type, 'delivery.failed')
    t.match(notice.data, {
      delivery_id: deliveryId,
      rule_id: rule.id,
      rule_title: 'Flaky',
      entity_type: 'lead',
      entity_id: 'L-7',
      attempts: 2,
      response_status: 503,
    })

    const notices = await app.inject({ url: '/v1/deliveries?kind=notice', headers: ws.auth })
    const [recorded] = notices.json().data as DeliveryJson[]
    t.match(recorded, {
      kind: 'notice',
      rule_id: null,
      event_type: 'delivery.failed',
      entity_id: 'L-7',
    })
    t.equal(got.headers['webhook-id'], recorded?.id, 'the notice is a delivery of its own')
    await settled(app, ws, recorded?.id as string, 'succeeded')
  },
)

t.test('410 Gone disables the rule with a reason and pushes rule.disabled', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t, (_req, res) => res.writeHead(410).end())
  const crm = await startReceiver(t)
  const ws = await createWorkspace(app)
  await setCallback(app, ws, `${crm.url}/notices`)
  const rule = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/x`, { title: 'Old endpoint', execution: { max_attempts: 5 } }),
  )
  const event = await postEvent(app, ws, 'lead.created', lead({}))
  const delivery = await settled(app, ws, event.deliveries[0] as string)
  t.match(delivery, { status: 'failed', attempts: 1, response_status: 410 }, 'no retry after 410')

  const after = (await app.inject({ url: `/v1/rules/${rule.id}`, headers: ws.auth })).json()
  t.equal(after.enabled, false)
  t.match(after.disabled_reason, /410/)
  t.equal(after.disabled_code, 'receiver_gone', 'a code the CRM translates')

  await crm.waitFor(1)
  const notice = JSON.parse(crm.received[0]!.body) as Notice
  t.equal(notice.type, 'rule.disabled')
  t.match(notice.data, { rule_id: rule.id, rule_title: 'Old endpoint', reason: /410/ })
  t.ok(verifyStandardWebhook(await signingSecret(app, ws), crm.received[0]!))

  const next = await postEvent(app, ws, 'lead.created', lead({}))
  t.same(next.matched_rules, [], 'a disabled rule no longer matches')

  const enabled = await app.inject({
    method: 'POST',
    url: `/v1/rules/${rule.id}/enable`,
    headers: ws.auth,
  })
  t.equal(enabled.json().disabled_reason, null, 'enabling clears the reason')
  t.equal(enabled.json().disabled_code, null)
})

t.test('a rule failing for longer than the limit is disabled', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t, (_req, res) => res.writeHead(500).end())
  const crm = await startReceiver(t)
  const ws = await createWorkspace(app)
  await setCallback(app, ws, `${crm.url}/notices`)
  const rule = await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/x`, { execution: { max_attempts: 1 } }),
  )
  const first = await postEvent(app, ws, 'lead.created', lead({}))
  await settled(app, ws, first.deliveries[0] as string, 'failed')
  const still = (await app.inject({ url: `/v1/rules/${rule.id}`, headers: ws.auth })).json()
  t.equal(still.enabled, true, 'one failure does not disable')

  // As if the failures had started two hours ago.
  await testApp.database.pool.query(
    `update rules set failing_since = now() - interval '2 hours' where id = $1`,
    [rule.id],
  )
  const second = await postEvent(app, ws, 'lead.created', lead({}))
  await settled(app, ws, second.deliveries[0] as string, 'failed')
  const after = (await app.inject({ url: `/v1/rules/${rule.id}`, headers: ws.auth })).json()
  t.equal(after.enabled, false)
  t.match(after.disabled_reason, /failed for 1 hour/)
  t.equal(after.disabled_code, 'failing_too_long')
  await crm.waitFor(1)
  t.equal(JSON.parse(crm.received[0]!.body).type, 'rule.disabled')
})

t.test('success "200" treats a 201 as a failure', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t, (_req, res) => res.writeHead(201).end('created'))
  const ws = await createWorkspace(app)
  await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/strict`, {
      event_types: ['lead.strict'],
      execution: { success: '200', max_attempts: 1 },
    }),
  )
  await createRule(app, ws, ruleBody(`${receiver.url}/any`, { event_types: ['lead.any'] }))
  const strict = await postEvent(app, ws, 'lead.strict', lead({}))
  const any = await postEvent(app, ws, 'lead.any', lead({}))
  const failed = await settled(app, ws, strict.deliveries[0] as string)
  t.match(failed, { status: 'failed', response_status: 201, last_error: /exactly 200/ })
  const ok = await settled(app, ws, any.deliveries[0] as string)
  t.match(ok, { status: 'succeeded', response_status: 201 }, 'by default any 2xx succeeds')
})

t.test('notices without a CRM callback are cancelled, not sent', async (t) => {
  const { app } = testApp
  await startWorkers(t, testApp)
  const receiver = await startReceiver(t, (_req, res) => res.writeHead(500).end())
  const ws = await createWorkspace(app)
  await createRule(
    app,
    ws,
    ruleBody(`${receiver.url}/x`, { execution: { max_attempts: 1 }, notify_on_failure: true }),
  )
  const event = await postEvent(app, ws, 'lead.created', lead({}))
  await settled(app, ws, event.deliveries[0] as string, 'failed')
  const notice = await eventually(async () => {
    const list = await app.inject({ url: '/v1/deliveries?kind=notice', headers: ws.auth })
    const [first] = list.json().data as DeliveryJson[]
    // Finished: a worker marks it delivering as it takes it, then cancels it.
    return first && !['queued', 'delivering'].includes(first.status) ? first : undefined
  })
  t.match(notice, { status: 'cancelled', last_error: /callback/ })
})
